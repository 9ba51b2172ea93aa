using Fleet.TestSupport;

[assembly: AssemblyFixture(typeof(PostgresFixture))]
