using Fleet.TestSupport;

// One PostgreSQL server for the whole assembly; each test creates its own database on it. Brokers are per test:
// each runs on the files generated from that test's registry.
[assembly: AssemblyFixture(typeof(PostgresFixture))]
