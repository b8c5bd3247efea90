-- When each summary row was loaded, so the newest smoke run can be found.
ALTER TABLE smoke.device_summary ADD COLUMN IF NOT EXISTS loaded_at timestamptz NOT NULL DEFAULT now();
