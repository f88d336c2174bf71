-- The version of the code's JSON shape a row's body was written with, so
-- readers may serve a current body as it is and decode older ones.
ALTER TABLE net_networks ADD COLUMN body_version INTEGER NOT NULL DEFAULT 0;
ALTER TABLE net_subnets ADD COLUMN body_version INTEGER NOT NULL DEFAULT 0;
ALTER TABLE net_ports ADD COLUMN body_version INTEGER NOT NULL DEFAULT 0;
ALTER TABLE net_security_groups ADD COLUMN body_version INTEGER NOT NULL DEFAULT 0;
ALTER TABLE net_security_group_rules ADD COLUMN body_version INTEGER NOT NULL DEFAULT 0;
ALTER TABLE net_routers ADD COLUMN body_version INTEGER NOT NULL DEFAULT 0;
ALTER TABLE net_floatingips ADD COLUMN body_version INTEGER NOT NULL DEFAULT 0;
ALTER TABLE net_subnetpools ADD COLUMN body_version INTEGER NOT NULL DEFAULT 0;
