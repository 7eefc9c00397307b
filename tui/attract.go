package tui

// attractScreen is the calm screen of a kiosk nobody uses: the site's name
// and an invitation, drifting a little each minute so nothing burns in.
func (m Model) attractScreen(f *frame) {
	// Every language the site speaks, the default first: the next person
	// may not read it.
	lines := []string{m.st.Title.Render(fit(m.site.name, m.w-4))}
	for _, l := range m.siteLangs() {
		lines = append(lines, tr(l, "attract.touch"))
	}
	w := min(m.w-4, 60)
	minute := m.now.Hour()*60 + m.now.Minute()
	rangeX, rangeY := max(m.w-w-4, 0), max(m.h-3-2*len(lines), 0)
	x := 2 + drift(minute*7, rangeX)
	y := 1 + drift(minute*3, rangeY)
	for i, l := range lines {
		f.put(x, y+2*i, w, m.para(m.st.Text, l, w, 1))
	}
}

// drift walks back and forth over 0..n.
func drift(step, n int) int {
	if n <= 0 {
		return 0
	}
	p := step % (2 * n)
	if p > n {
		p = 2*n - p
	}
	return p
}

// siteLangs is the languages the site speaks, the default first.
func (m Model) siteLangs() []string {
	if l := m.d.Config.Site.Languages; len(l) > 0 {
		return l
	}
	return []string{"fr"}
}
