-- Widget settings per instance (helpline.WidgetStore), as JSON: they are
-- read whole and replaced whole.
CREATE TABLE widget_settings (
	instance_id TEXT PRIMARY KEY,
	data        TEXT NOT NULL
);
