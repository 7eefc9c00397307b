// The anchor of the start-up benchmark: the smallest Bubble Tea v2
// program drawing six lipgloss tiles, measured the same way as borne.
package main

import (
	"fmt"
	"os"

	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
)

type model struct{}

func (model) Init() tea.Cmd { return nil }

func (m model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	if k, ok := msg.(tea.KeyPressMsg); ok && k.String() == "q" {
		return m, tea.Quit
	}
	return m, nil
}

var names = []string{"CAF du Loiret", "CPAM du Loiret", "CARSAT Centre-Val de Loire", "ADIL-EIE du Loiret", "Maison de Justice et du Droit", "Services de l'État"}

func (model) View() tea.View {
	tile := lipgloss.NewStyle().Border(lipgloss.RoundedBorder()).Width(34).Height(5).Align(lipgloss.Center, lipgloss.Center)
	var rows []string
	for i := 0; i < len(names); i += 3 {
		rows = append(rows, lipgloss.JoinHorizontal(lipgloss.Top, tile.Render(names[i]), tile.Render(names[i+1]), tile.Render(names[i+2])))
	}
	v := tea.NewView(lipgloss.JoinVertical(lipgloss.Left, rows...))
	v.AltScreen = true
	return v
}

func main() {
	if _, err := tea.NewProgram(model{}).Run(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
