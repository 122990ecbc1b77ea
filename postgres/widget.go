package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/helplinehq/helpline"
)

// SaveWidgetSettings creates or replaces the widget settings of
// ws.InstanceID.
func (db *DB) SaveWidgetSettings(ctx context.Context, ws *helpline.WidgetSettings) error {
	data, err := json.Marshal(ws)
	if err != nil {
		return fmt.Errorf("postgres: encode widget settings: %w", err)
	}
	_, err = db.pool.Exec(ctx, `INSERT INTO widget_settings (instance_id, data) VALUES ($1, $2)
		ON CONFLICT (instance_id) DO UPDATE SET data = excluded.data`, ws.InstanceID, string(data))
	if err != nil {
		return dbError("save widget settings", err)
	}
	return nil
}

// FindWidgetSettings returns ENOTFOUND (Resource WIDGET) if the instance
// has saved none.
func (db *DB) FindWidgetSettings(ctx context.Context, instanceID string) (*helpline.WidgetSettings, error) {
	var data []byte
	err := db.pool.QueryRow(ctx, `SELECT data FROM widget_settings WHERE instance_id = $1`, instanceID).Scan(&data)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, helpline.NotFound(helpline.ResourceWidget, instanceID)
	} else if err != nil {
		return nil, dbError("read widget settings", err)
	}
	var ws helpline.WidgetSettings
	if err := json.Unmarshal(data, &ws); err != nil {
		return nil, fmt.Errorf("postgres: decode widget settings: %w", err)
	}
	return &ws, nil
}
