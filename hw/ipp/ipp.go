// Package ipp is the part of the Internet Printing Protocol (IPP/1.1, RFC
// 8010 and 8011) the kiosk needs to talk to its own CUPS scheduler: the
// binary message encoding, the few operations and status codes it uses,
// and a client that carries messages over HTTP as application/ipp.
//
// It is small on purpose: a message is a list of attribute groups, an
// attribute is a name and its values, and a value keeps its wire tag so
// that whatever a printer sends can be decoded, kept and encoded again.
package ipp

import (
	"fmt"
	"strconv"
)

// Tag is a delimiter tag (the start of an attribute group, the end of the
// attributes) or a value tag (the syntax of a value).
type Tag byte

// Delimiter tags.
const (
	TagOperation    Tag = 0x01
	TagJob          Tag = 0x02
	TagEnd          Tag = 0x03
	TagPrinter      Tag = 0x04
	TagUnsupported  Tag = 0x05
	TagSubscription Tag = 0x06
	TagEvent        Tag = 0x07
)

// Out-of-band value tags: the value has no bytes.
const (
	TagUnsupportedValue Tag = 0x10
	TagDefault          Tag = 0x11
	TagUnknown          Tag = 0x12
	TagNoValue          Tag = 0x13
	TagNotSettable      Tag = 0x15
	TagDeleteAttribute  Tag = 0x16
	TagAdminDefine      Tag = 0x17
)

// Value tags.
const (
	TagInteger         Tag = 0x21
	TagBoolean         Tag = 0x22
	TagEnum            Tag = 0x23
	TagOctetString     Tag = 0x30
	TagDateTime        Tag = 0x31
	TagResolution      Tag = 0x32
	TagRange           Tag = 0x33
	TagBeginCollection Tag = 0x34
	TagTextLang        Tag = 0x35
	TagNameLang        Tag = 0x36
	TagEndCollection   Tag = 0x37
	TagText            Tag = 0x41
	TagName            Tag = 0x42
	TagKeyword         Tag = 0x44
	TagURI             Tag = 0x45
	TagURIScheme       Tag = 0x46
	TagCharset         Tag = 0x47
	TagLanguage        Tag = 0x48
	TagMimeType        Tag = 0x49
	TagMemberName      Tag = 0x4A
	TagExtension       Tag = 0x7F
)

// IsDelimiter tells whether t starts a group or ends the attributes.
func (t Tag) IsDelimiter() bool { return t < 0x10 }

// IsOutOfBand tells whether a value with this tag carries no bytes.
func (t Tag) IsOutOfBand() bool { return t >= 0x10 && t < 0x20 }

// isString tells whether values with this tag are strings of some kind
// (octetString, text, name, keyword, uri…), kept in Value.Text.
func (t Tag) isString() bool {
	return t == TagOctetString || (t >= TagText && t <= TagMemberName)
}

// Op is an operation code.
type Op uint16

// The operations the kiosk uses, standard then CUPS-specific.
const (
	OpPrintJob                   Op = 0x0002
	OpValidateJob                Op = 0x0004
	OpCreateJob                  Op = 0x0005
	OpCancelJob                  Op = 0x0008
	OpGetJobAttributes           Op = 0x0009
	OpGetJobs                    Op = 0x000A
	OpGetPrinterAttributes       Op = 0x000B
	OpHoldJob                    Op = 0x000C
	OpReleaseJob                 Op = 0x000D
	OpRestartJob                 Op = 0x000E
	OpPausePrinter               Op = 0x0010
	OpResumePrinter              Op = 0x0011
	OpPurgeJobs                  Op = 0x0012
	OpCreatePrinterSubscriptions Op = 0x0016
	OpGetSubscriptionAttributes  Op = 0x0018
	OpGetSubscriptions           Op = 0x0019
	OpRenewSubscription          Op = 0x001A
	OpCancelSubscription         Op = 0x001B
	OpHoldNewJobs                Op = 0x0025
	OpReleaseHeldNewJobs         Op = 0x0026
	OpCancelJobs                 Op = 0x0038
	OpCancelMyJobs               Op = 0x0039
	OpCUPSGetDefault             Op = 0x4001
	OpCUPSGetPrinters            Op = 0x4002
	OpCUPSAcceptJobs             Op = 0x4008
	OpCUPSRejectJobs             Op = 0x4009
)

var opNames = map[Op]string{
	OpPrintJob:                   "Print-Job",
	OpValidateJob:                "Validate-Job",
	OpCreateJob:                  "Create-Job",
	OpCancelJob:                  "Cancel-Job",
	OpGetJobAttributes:           "Get-Job-Attributes",
	OpGetJobs:                    "Get-Jobs",
	OpGetPrinterAttributes:       "Get-Printer-Attributes",
	OpHoldJob:                    "Hold-Job",
	OpReleaseJob:                 "Release-Job",
	OpRestartJob:                 "Restart-Job",
	OpPausePrinter:               "Pause-Printer",
	OpResumePrinter:              "Resume-Printer",
	OpPurgeJobs:                  "Purge-Jobs",
	OpCreatePrinterSubscriptions: "Create-Printer-Subscriptions",
	OpGetSubscriptionAttributes:  "Get-Subscription-Attributes",
	OpGetSubscriptions:           "Get-Subscriptions",
	OpRenewSubscription:          "Renew-Subscription",
	OpCancelSubscription:         "Cancel-Subscription",
	OpHoldNewJobs:                "Hold-New-Jobs",
	OpReleaseHeldNewJobs:         "Release-Held-New-Jobs",
	OpCancelJobs:                 "Cancel-Jobs",
	OpCancelMyJobs:               "Cancel-My-Jobs",
	OpCUPSGetDefault:             "CUPS-Get-Default",
	OpCUPSGetPrinters:            "CUPS-Get-Printers",
	OpCUPSAcceptJobs:             "CUPS-Accept-Jobs",
	OpCUPSRejectJobs:             "CUPS-Reject-Jobs",
}

func (o Op) String() string {
	if s, ok := opNames[o]; ok {
		return s
	}
	return fmt.Sprintf("operation-0x%04x", uint16(o))
}

// Status is a response's status code.
type Status uint16

// Status codes (RFC 8011 appendix B, and the CUPS extensions one meets).
const (
	StatusOK                          Status = 0x0000
	StatusOKIgnoredOrSubstituted      Status = 0x0001
	StatusOKConflicting               Status = 0x0002
	StatusBadRequest                  Status = 0x0400
	StatusForbidden                   Status = 0x0401
	StatusNotAuthenticated            Status = 0x0402
	StatusNotAuthorized               Status = 0x0403
	StatusNotPossible                 Status = 0x0404
	StatusTimeout                     Status = 0x0405
	StatusNotFound                    Status = 0x0406
	StatusGone                        Status = 0x0407
	StatusRequestEntityTooLarge       Status = 0x0408
	StatusRequestValueTooLong         Status = 0x0409
	StatusDocumentFormatNotSupported  Status = 0x040A
	StatusAttributesNotSupported      Status = 0x040B
	StatusURISchemeNotSupported       Status = 0x040C
	StatusCharsetNotSupported         Status = 0x040D
	StatusConflicting                 Status = 0x040E
	StatusCompressionNotSupported     Status = 0x040F
	StatusCompressionError            Status = 0x0410
	StatusDocumentFormatError         Status = 0x0411
	StatusDocumentAccessError         Status = 0x0412
	StatusInternalError               Status = 0x0500
	StatusOperationNotSupported       Status = 0x0501
	StatusServiceUnavailable          Status = 0x0502
	StatusVersionNotSupported         Status = 0x0503
	StatusDeviceError                 Status = 0x0504
	StatusTemporaryError              Status = 0x0505
	StatusNotAcceptingJobs            Status = 0x0506
	StatusBusy                        Status = 0x0507
	StatusJobCanceled                 Status = 0x0508
	StatusMultipleDocumentJobsNotSupp Status = 0x0509
	StatusCUPSAuthenticationCanceled  Status = 0x1000
	StatusCUPSPKI                     Status = 0x1001
	StatusCUPSUpgradeRequired         Status = 0x1002
	statusFirstClientError            Status = 0x0400
)

var statusNames = map[Status]string{
	StatusOK:                          "successful-ok",
	StatusOKIgnoredOrSubstituted:      "successful-ok-ignored-or-substituted-attributes",
	StatusOKConflicting:               "successful-ok-conflicting-attributes",
	StatusBadRequest:                  "client-error-bad-request",
	StatusForbidden:                   "client-error-forbidden",
	StatusNotAuthenticated:            "client-error-not-authenticated",
	StatusNotAuthorized:               "client-error-not-authorized",
	StatusNotPossible:                 "client-error-not-possible",
	StatusTimeout:                     "client-error-timeout",
	StatusNotFound:                    "client-error-not-found",
	StatusGone:                        "client-error-gone",
	StatusRequestEntityTooLarge:       "client-error-request-entity-too-large",
	StatusRequestValueTooLong:         "client-error-request-value-too-long",
	StatusDocumentFormatNotSupported:  "client-error-document-format-not-supported",
	StatusAttributesNotSupported:      "client-error-attributes-or-values-not-supported",
	StatusURISchemeNotSupported:       "client-error-uri-scheme-not-supported",
	StatusCharsetNotSupported:         "client-error-charset-not-supported",
	StatusConflicting:                 "client-error-conflicting-attributes",
	StatusCompressionNotSupported:     "client-error-compression-not-supported",
	StatusCompressionError:            "client-error-compression-error",
	StatusDocumentFormatError:         "client-error-document-format-error",
	StatusDocumentAccessError:         "client-error-document-access-error",
	StatusInternalError:               "server-error-internal-error",
	StatusOperationNotSupported:       "server-error-operation-not-supported",
	StatusServiceUnavailable:          "server-error-service-unavailable",
	StatusVersionNotSupported:         "server-error-version-not-supported",
	StatusDeviceError:                 "server-error-device-error",
	StatusTemporaryError:              "server-error-temporary-error",
	StatusNotAcceptingJobs:            "server-error-not-accepting-jobs",
	StatusBusy:                        "server-error-busy",
	StatusJobCanceled:                 "server-error-job-canceled",
	StatusMultipleDocumentJobsNotSupp: "server-error-multiple-document-jobs-not-supported",
	StatusCUPSAuthenticationCanceled:  "cups-authentication-canceled",
	StatusCUPSPKI:                     "cups-pki-error",
	StatusCUPSUpgradeRequired:         "cups-upgrade-required",
}

func (s Status) String() string {
	if n, ok := statusNames[s]; ok {
		return n
	}
	return "status-0x" + strconv.FormatUint(uint64(s), 16)
}

// OK tells whether the status is one of the successful ones.
func (s Status) OK() bool { return s < statusFirstClientError }

// Printer states (printer-state).
const (
	PrinterIdle       = 3
	PrinterProcessing = 4
	PrinterStopped    = 5
)

// Job states (job-state).
const (
	JobPending    = 3
	JobHeld       = 4
	JobProcessing = 5
	JobStopped    = 6
	JobCanceled   = 7
	JobAborted    = 8
	JobCompleted  = 9
)

// JobStateName is the keyword of a job-state value ("completed" for 9).
func JobStateName(state int) string {
	switch state {
	case JobPending:
		return "pending"
	case JobHeld:
		return "pending-held"
	case JobProcessing:
		return "processing"
	case JobStopped:
		return "processing-stopped"
	case JobCanceled:
		return "canceled"
	case JobAborted:
		return "aborted"
	case JobCompleted:
		return "completed"
	}
	return "unknown"
}

// JobDone tells whether a job in this state will not change any more.
func JobDone(state int) bool { return state >= JobCanceled }
