// Sends a fixed set of metrics with hot-shots, the Node StatsD/DogStatsD client, to the
// sidecar: node hot_shots.js <udp|tcp> <port> <prefix>. Exits once the client has closed.
const StatsD = require("hot-shots");

const [protocol, port, prefix] = process.argv.slice(2);
const client = new StatsD({
  host: "127.0.0.1",
  port: Number(port),
  protocol,
  prefix,
  globalTags: { env: "prod" },
  errorHandler: (err) => {
    console.error("hot-shots error:", err);
    process.exit(1);
  },
});

client.increment("requests", 5, { route: "/a" });
client.increment("requests", 2, { route: "/a" });
client.timing("latency", 42);
client.timing("latency", 58);
client.histogram("size", 3);
client.distribution("dist", 9);
client.gauge("queue", 7);
client.gauge("queue", 10);
client.set("users", "alice");
client.set("users", "bob");
client.set("users", "alice");
client.close((err) => {
  if (err) {
    console.error("close:", err);
    process.exit(1);
  }
});
