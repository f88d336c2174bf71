-- Indexes for sorting by name and for the selective list filters
-- (name=in:..., size ranges), so such pages are index range scans.
CREATE INDEX images_name ON images (name, id);
CREATE INDEX images_size ON images (size);
