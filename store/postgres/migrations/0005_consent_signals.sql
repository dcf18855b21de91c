-- Each brand's mapping of the consent signals events carry (package ingest): which category ×
-- purpose pairs a consent manager's category, a RudderStack consent id, an IAB TCF purpose or
-- special feature stands for, as JSON. A brand without a row uses the documented defaults.
CREATE TABLE consent_signal_maps (
  brand_id   BIGINT PRIMARY KEY,
  version    BIGINT NOT NULL,
  map        TEXT COLLATE "C" NOT NULL,
  updated_at BIGINT NOT NULL
);
