//! Integration tests: the real app on 127.0.0.1:0, the real AWS SDK on the wire, and an
//! in-process CloudWatch that speaks its protocol and injects faults. One test binary, so
//! the suite links once.

mod allowed_namespaces;
mod binary;
mod buffer_cost;
mod catalog;
mod catalog_both_sides;
mod connections;
mod cost;
mod emf;
mod emf_bounds;
mod environment;
mod environment_binary;
mod fake_cloudwatch;
mod fake_metadata;
mod fake_outage;
mod grpc_client;
mod hardening;
mod helpers;
mod ingest;
mod inputs;
mod lifecycle;
mod limited;
mod line_app;
mod line_limits;
mod memory_ceiling;
mod memory_ceiling_queues;
mod otlp;
mod otlp_clients;
mod otlp_grpc;
mod otlp_grpc_clients;
mod otlp_grpc_memory;
mod otlp_memory;
mod overflow;
mod probes;
mod publishing;
mod remote_write;
mod remote_write_prometheus;
mod scrape;
mod scrape_client;
mod scrape_hostile;
mod scrape_memory;
mod spool;
mod spool_edges;
mod statsd;
mod statsd_memory;
