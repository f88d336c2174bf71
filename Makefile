# Gureum's entry points. `make run` and `make test` are the README's two
# commands; both install what they need on Debian 12 (as root).

GO ?= go
DATA_DIR ?= /var/lib/gureum
LISTEN ?= 127.0.0.1:8774

.PHONY: build run test deps bench test-image

build:
	$(GO) build -o build/gureum ./cmd/gureum

deps:
	scripts/deps.sh run

run: deps build
	./build/gureum server --data-dir $(DATA_DIR) --listen $(LISTEN)

test:
	scripts/test.sh

# The tiny guest for compute tests (kernel + busybox + dropbear from Debian
# packages): build/images/tiny.qcow2 (+ tiny.vmlinuz/tiny.initrd for direct
# kernel boot). See tools/test-image/README.md.
test-image:
	tools/test-image/build.sh build/images
