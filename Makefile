# Conveniences; scripts/test.sh is the one test command (CI runs it too).
.PHONY: all build run test vet interop clean

all: build

build:
	go build -o parley ./cmd/parley

run:
	go run ./cmd/parley serve

test:
	scripts/test.sh

vet:
	go vet ./...

# Only the third-party client scenarios, verbosely.
interop:
	go test -count=1 -v ./interop/

clean:
	rm -f parley
