package cups

import "github.com/loiret/borne/hw"

// reasonWords are the printer reasons in a technician's words, for borne
// doctor and errors; citizens read them from the shell's catalogs.
var reasonWords = map[string]string{
	hw.ReasonNoPaper:       "Out of paper",
	hw.ReasonOffline:       "Printer offline",
	hw.ReasonJammed:        "Paper jam",
	hw.ReasonNoToner:       "Out of ink or toner",
	hw.ReasonUnknown:       "Printer out of order",
	hw.ReasonNoPrinter:     "Printer not found",
	hw.ReasonPaused:        "Printer stopped",
	hw.ReasonDoorOpen:      "Printer cover open",
	hw.ReasonNoService:     "Printing unavailable",
	hw.ReasonMisconfigured: "Printer misconfigured",
	hw.ReasonJobFailed:     "The job failed",
	hw.ReasonJobCanceled:   "The job was cancelled",
}

// reasonText is a reason in words; an unknown one reads as ReasonUnknown.
func reasonText(reason string) string {
	if reason == hw.ReasonNone {
		return ""
	}
	if w, ok := reasonWords[reason]; ok {
		return w
	}
	return reasonWords[hw.ReasonUnknown]
}
