-- An order-preserving key for addresses (32 hex digits of the 16-byte
-- form): the allocator finds a pool's highest allocated address through
-- the index instead of reading every allocation of the subnet.
ALTER TABLE net_ip_allocations ADD COLUMN ip_key TEXT NOT NULL DEFAULT '';
CREATE INDEX net_ip_allocations_key ON net_ip_allocations (subnet_id, ip_key);
