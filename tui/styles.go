package tui

import (
	"image/color"

	"charm.land/lipgloss/v2"
)

// Palette is a theme's semantic colours; no other file names a colour.
type Palette struct {
	Bg, Fg, Muted             color.Color
	TileBg, TileFg            color.Color
	Primary, PrimaryFg        color.Color
	Disabled, DisabledFg      color.Color
	Focus, Open, Closed, Warn color.Color
}

// Themes by config name.
var themes = map[string]Palette{
	"default": {
		Bg: lipgloss.Color("#0B2545"), Fg: lipgloss.Color("#FFFFFF"), Muted: lipgloss.Color("#D6E2F0"),
		TileBg: lipgloss.Color("#13315C"), TileFg: lipgloss.Color("#FFFFFF"),
		Primary: lipgloss.Color("#FFD166"), PrimaryFg: lipgloss.Color("#0B2545"),
		Disabled: lipgloss.Color("#3A4F6B"), DisabledFg: lipgloss.Color("#E8EEF5"),
		Focus: lipgloss.Color("#FFD166"), Open: lipgloss.Color("#8FE3A8"), Closed: lipgloss.Color("#FFB3A7"),
		Warn: lipgloss.Color("#FFD166"),
	},
	"high-contrast": {
		Bg: lipgloss.Color("#000000"), Fg: lipgloss.Color("#FFFFFF"), Muted: lipgloss.Color("#FFFFFF"),
		TileBg: lipgloss.Color("#000000"), TileFg: lipgloss.Color("#FFFFFF"),
		Primary: lipgloss.Color("#FFFF00"), PrimaryFg: lipgloss.Color("#000000"),
		Disabled: lipgloss.Color("#000000"), DisabledFg: lipgloss.Color("#FFFFFF"),
		Focus: lipgloss.Color("#FFFF00"), Open: lipgloss.Color("#00FF00"), Closed: lipgloss.Color("#FFFF00"),
		Warn: lipgloss.Color("#FFFF00"),
	},
}

// Styles are the lipgloss styles built from one palette.
type Styles struct {
	P                           Palette
	Screen, Header, Title, Text lipgloss.Style
	Muted, Open, Closed, Warn   lipgloss.Style
	Tile, TileFocus             lipgloss.Style
	TileTitle, TileText         lipgloss.Style
	Button, ButtonFocus         lipgloss.Style
	Primary, PrimaryFocus       lipgloss.Style
	Disabled, DisabledFocus     lipgloss.Style
}

func newStyles(theme string) *Styles {
	p, ok := themes[theme]
	if !ok {
		p = themes["default"]
	}
	base := lipgloss.NewStyle().Foreground(p.Fg).Background(p.Bg)
	box := func(fg, bg, border color.Color, b lipgloss.Border) lipgloss.Style {
		return lipgloss.NewStyle().Foreground(fg).Background(bg).
			Border(b).BorderForeground(border).BorderBackground(p.Bg).
			Align(lipgloss.Center, lipgloss.Center)
	}
	normal, thick := lipgloss.RoundedBorder(), lipgloss.ThickBorder()
	return &Styles{
		P:             p,
		Screen:        base,
		Header:        base.Bold(true),
		Title:         base.Bold(true),
		Text:          base,
		Muted:         lipgloss.NewStyle().Foreground(p.Muted).Background(p.Bg),
		Open:          lipgloss.NewStyle().Foreground(p.Open).Background(p.TileBg).Bold(true),
		Closed:        lipgloss.NewStyle().Foreground(p.Closed).Background(p.TileBg),
		Warn:          base.Foreground(p.Warn).Bold(true),
		Tile:          box(p.TileFg, p.TileBg, p.Muted, normal),
		TileTitle:     lipgloss.NewStyle().Foreground(p.TileFg).Background(p.TileBg).Bold(true),
		TileText:      lipgloss.NewStyle().Foreground(p.TileFg).Background(p.TileBg),
		TileFocus:     box(p.TileFg, p.TileBg, p.Focus, thick),
		Button:        box(p.TileFg, p.TileBg, p.Muted, normal),
		ButtonFocus:   box(p.TileFg, p.TileBg, p.Focus, thick),
		Primary:       box(p.PrimaryFg, p.Primary, p.Primary, normal).Bold(true),
		PrimaryFocus:  box(p.PrimaryFg, p.Primary, p.Fg, thick).Bold(true),
		Disabled:      box(p.DisabledFg, p.Disabled, p.Disabled, normal),
		DisabledFocus: box(p.DisabledFg, p.Disabled, p.Focus, thick),
	}
}
