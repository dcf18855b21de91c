-- A brand's catalogue (package catalog): the item as the brand gave it (JSON), with the fields
-- queries filter on in columns. Deleted items keep their row (deleted_at > 0).
CREATE TABLE catalog_items (
  brand_id    BIGINT NOT NULL,
  id          TEXT COLLATE "C" NOT NULL,
  category    TEXT COLLATE "C" NOT NULL,
  available   BIGINT NOT NULL,
  body        TEXT COLLATE "C" NOT NULL,
  version     BIGINT NOT NULL,
  updated_at  BIGINT NOT NULL,
  deleted_at  BIGINT NOT NULL DEFAULT 0,
  PRIMARY KEY (brand_id, id)
);
