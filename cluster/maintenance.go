package cluster

import (
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Maintenance mode: an app in maintenance is answered by the routers
// themselves, 503 with Retry-After and a page holding its message, while
// its instances keep running and deploys, rollbacks and scales go on as
// usual, so that it comes back on its new revision when maintenance ends.
// ACME challenges are still answered for it. The setting is kept in the
// App record (a restart keeps it) and carried to the routers in the signed
// routing table (RoutingTable.Maintenance).

// MaxMaintenanceMessage bounds the message of the maintenance page, in bytes.
const MaxMaintenanceMessage = 1024

// DefaultMaintenanceMessage is shown when maintenance is turned on without
// a message.
const DefaultMaintenanceMessage = "This site is down for maintenance and will be back shortly."

// AppMaintenance is an app's maintenance setting (POST /apps/:app/maintenance).
type AppMaintenance struct {
	Enabled bool      `json:"enabled"`
	Message string    `json:"message,omitempty"` // shown on the page; empty: DefaultMaintenanceMessage
	Since   time.Time `json:"since,omitzero"`    // when it was turned on
}

// MaintenanceRoute is how the routers answer one app in maintenance.
type MaintenanceRoute struct {
	Message string `json:"message"`
}

// ValidateMaintenanceMessage checks the message of a maintenance page:
// UTF-8 text of at most MaxMaintenanceMessage bytes, without control
// characters other than line breaks and tabs. The routers escape it.
func ValidateMaintenanceMessage(app, msg string) error {
	if len(msg) > MaxMaintenanceMessage {
		return Errorf(EINVALID, "The maintenance message of %s is %d bytes long: give at most %d (a sentence or two; the page is small).", app, len(msg), MaxMaintenanceMessage)
	}
	if !utf8.ValidString(msg) {
		return Errorf(EINVALID, "The maintenance message of %s is not valid UTF-8: send it as UTF-8 text.", app)
	}
	if i := strings.IndexFunc(msg, func(r rune) bool { return unicode.IsControl(r) && r != '\n' && r != '\t' }); i >= 0 {
		return Errorf(EINVALID, "The maintenance message of %s holds a control character at byte %d: give plain text (line breaks and tabs are fine).", app, i)
	}
	return nil
}

// AddMaintenance adds app to the table's apps in maintenance when it is in
// maintenance (and not being deleted). Both stores build the table with it.
func AddMaintenance(t *RoutingTable, app *App) {
	if !app.Maintenance.Enabled || app.Deleting {
		return
	}
	if t.Maintenance == nil {
		t.Maintenance = map[string]MaintenanceRoute{}
	}
	msg := app.Maintenance.Message
	if msg == "" {
		msg = DefaultMaintenanceMessage
	}
	t.Maintenance[app.Name] = MaintenanceRoute{Message: msg}
}
