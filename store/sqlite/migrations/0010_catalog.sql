-- A brand's catalogue (package catalog): the item as the brand gave it (JSON), with the fields
-- queries filter on in columns. Deleted items keep their row (deleted_at > 0).
CREATE TABLE catalog_items (
  brand_id    INTEGER NOT NULL,
  id          TEXT NOT NULL,
  category    TEXT NOT NULL,
  available   INTEGER NOT NULL,
  body        TEXT NOT NULL,
  version     INTEGER NOT NULL,
  updated_at  INTEGER NOT NULL,
  deleted_at  INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (brand_id, id)
);
