-- Indexes for the selective list filters (name=in:..., status, size
-- ranges), so such pages are index lookups rather than table scans.
CREATE INDEX images_name ON images (name);
CREATE INDEX images_size ON images (size);
CREATE INDEX image_properties_image ON image_properties (image_id);
