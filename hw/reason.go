package hw

// reasonWords are the printer reasons in plain words, as a citizen reads
// them under a greyed print button: what is wrong, never what to do about
// it (that is the agent's job).
var reasonWords = map[string][2]string{ // reason → {French, English}
	ReasonNoPaper:       {"Plus de papier", "Out of paper"},
	ReasonOffline:       {"Imprimante hors ligne", "Printer offline"},
	ReasonJammed:        {"Papier coincé", "Paper jam"},
	ReasonNoToner:       {"Plus d'encre", "Out of ink"},
	ReasonUnknown:       {"Imprimante en panne", "Printer out of order"},
	ReasonNoPrinter:     {"Imprimante introuvable", "Printer not found"},
	ReasonPaused:        {"Imprimante arrêtée", "Printer stopped"},
	ReasonDoorOpen:      {"Capot de l'imprimante ouvert", "Printer cover open"},
	ReasonNoService:     {"Impression indisponible", "Printing unavailable"},
	ReasonMisconfigured: {"Imprimante en panne", "Printer out of order"},
	ReasonJobFailed:     {"L'impression n'a pas pu se faire", "The document could not be printed"},
	ReasonJobCanceled:   {"Impression annulée", "Printing cancelled"},
}

// ReasonText is a printer reason (one of the Reason constants) in plain
// words, in French unless lang is "en". An unknown reason reads as
// ReasonUnknown; no reason reads as nothing.
func ReasonText(reason, lang string) string {
	if reason == ReasonNone {
		return ""
	}
	w, ok := reasonWords[reason]
	if !ok {
		w = reasonWords[ReasonUnknown]
	}
	if lang == "en" {
		return w[1]
	}
	return w[0]
}
