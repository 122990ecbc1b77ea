package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/helplinehq/helpline"
)

// SaveWidgetSettings creates or replaces the widget settings of
// ws.InstanceID.
func (db *DB) SaveWidgetSettings(ctx context.Context, ws *helpline.WidgetSettings) error {
	data, err := json.Marshal(ws)
	if err != nil {
		return fmt.Errorf("sqlite: encode widget settings: %w", err)
	}
	return db.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.Exec(`INSERT INTO widget_settings (instance_id, data) VALUES (?, ?)
			ON CONFLICT (instance_id) DO UPDATE SET data = excluded.data`, ws.InstanceID, data)
		if err != nil {
			return dbError("save widget settings", err)
		}
		return nil
	})
}

// FindWidgetSettings returns ENOTFOUND (Resource WIDGET) if the instance
// has saved none.
func (db *DB) FindWidgetSettings(ctx context.Context, instanceID string) (*helpline.WidgetSettings, error) {
	var data []byte
	err := db.r.QueryRowContext(ctx, `SELECT data FROM widget_settings WHERE instance_id = ?`, instanceID).Scan(&data)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, helpline.NotFound(helpline.ResourceWidget, instanceID)
	} else if err != nil {
		return nil, dbError("read widget settings", err)
	}
	var ws helpline.WidgetSettings
	if err := json.Unmarshal(data, &ws); err != nil {
		return nil, fmt.Errorf("sqlite: decode widget settings: %w", err)
	}
	return &ws, nil
}
