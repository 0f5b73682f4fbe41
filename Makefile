.PHONY: test demo
# The whole test suite against a real Kafka broker started by dev/kafka.
test:
	./dev/test
# The demo on the embedded in-process cluster.
demo:
	go run ./cmd/samsa demo
