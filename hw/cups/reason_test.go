package cups

import (
	"testing"

	"github.com/loiret/borne/hw"
)

func TestReasonText(t *testing.T) {
	for r := range reasonWords {
		if reasonText(r) == "" {
			t.Errorf("%s has no words", r)
		}
	}
	if reasonText("") != "" || reasonText("marker-waste-full") != reasonText(hw.ReasonUnknown) {
		t.Errorf("none or unknown reasons")
	}
}
