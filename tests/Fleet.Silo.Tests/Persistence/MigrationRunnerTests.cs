using Fleet.Silo.Persistence;
using Fleet.TestSupport;
using Npgsql;

namespace Fleet.Silo.Tests.Persistence;

public sealed class MigrationRunnerTests(PostgresFixture postgres)
{
    private const int Timeout = 60_000;

    private static readonly string[] ExpectedTables =
    [
        "schema_migrations", "regions", "office_zones", "departments", "vehicle_quotas", "vehicles",
        "terminals", "drivers", "vehicle_state", "positions", "positions_default",
    ];

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact(Timeout = Timeout)]
    public async Task Migrations_apply_to_an_empty_database_and_create_every_table_and_extension()
    {
        // From template0: the migration itself must install the extensions.
        var db = await postgres.CreateDatabaseAsync(withExtensions: false, cancellationToken: Ct);

        var result = await MigrationRunner.ApplyAsync(db, new RecordingLogger(), Ct);

        var latest = Migration.LoadEmbedded()[^1].Version;
        Assert.Equal(Migration.LoadEmbedded().Select(m => m.Version), result.Applied);
        Assert.Equal(latest, result.CurrentVersion);
        var tables = await TestDb.QueryStringsAsync(db, "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')");
        Assert.All(ExpectedTables, t => Assert.Contains(t, tables));
        var extensions = await TestDb.QueryStringsAsync(db, "SELECT extname FROM pg_extension");
        Assert.Contains("postgis", extensions);
        Assert.Contains("btree_gist", extensions);
    }

    [Fact(Timeout = Timeout)]
    public async Task Applying_twice_applies_nothing_the_second_time()
    {
        var db = await postgres.CreateDatabaseAsync(cancellationToken: Ct);
        var first = await MigrationRunner.ApplyAsync(db, new RecordingLogger(), Ct);

        var second = await MigrationRunner.ApplyAsync(db, new RecordingLogger(), Ct);

        Assert.NotEmpty(first.Applied);
        Assert.Empty(second.Applied);
        Assert.Equal(first.CurrentVersion, second.CurrentVersion);
        Assert.Equal(first.Applied.Count, await TestDb.ScalarAsync<long>(db, "SELECT count(*) FROM schema_migrations"));
    }

    [Fact(Timeout = Timeout)]
    public async Task Concurrent_runners_apply_each_migration_exactly_once()
    {
        var db = await postgres.CreateDatabaseAsync(cancellationToken: Ct);
        // A slow migration keeps the first runner inside the lock while the others arrive; a second apply of it
        // would fail on CREATE TABLE, so an exactly-once violation cannot pass silently.
        var migrations = Migration.LoadEmbedded()
            .Append(Migration.FromScript("0900_slow.sql", "SELECT pg_sleep(0.5); CREATE TABLE slow_marker (id integer);"))
            .ToList();
        // Separate data sources, as separate processes would have.
        var sources = Enumerable.Range(0, 4).Select(_ => NpgsqlDataSource.Create(db.ConnectionString)).ToList();
        try
        {
            var logger = new RecordingLogger();
            var runs = sources.Select(s => Task.Run(() => MigrationRunner.ApplyAsync(s, migrations, logger, Ct), Ct));

            var results = await Task.WhenAll(runs);

            Assert.Single(results, r => r.Applied.Count == migrations.Count);
            Assert.Equal(sources.Count - 1, results.Count(r => r.Applied.Count == 0));
            Assert.All(results, r => Assert.Equal(900, r.CurrentVersion));
            var rows = await TestDb.QueryStringsAsync(db, "SELECT version::text FROM schema_migrations ORDER BY version");
            Assert.Equal(migrations.Select(m => m.Version.ToString(System.Globalization.CultureInfo.InvariantCulture)), rows);
        }
        finally
        {
            foreach (var source in sources)
            {
                await source.DisposeAsync();
            }
        }
    }

    [Fact(Timeout = Timeout)]
    public async Task A_migration_edited_after_it_was_applied_is_an_error_naming_the_file()
    {
        var db = await postgres.CreateDatabaseAsync(cancellationToken: Ct);
        await MigrationRunner.ApplyAsync(db, new RecordingLogger(), Ct);
        var edited = Migration.LoadEmbedded()
            .Select(m => m.Version == 1 ? Migration.FromScript(m.FileName, m.Sql + "\n-- edited\n") : m)
            .ToList();

        var error = await Assert.ThrowsAsync<MigrationException>(() => MigrationRunner.ApplyAsync(db, edited, new RecordingLogger(), Ct));

        Assert.Contains("0001_initial.sql", error.Message, StringComparison.Ordinal);
        Assert.Contains("changed after it was applied", error.Message, StringComparison.Ordinal);
    }

    [Fact(Timeout = Timeout)]
    public async Task A_failing_migration_is_rolled_back_and_not_recorded()
    {
        var db = await postgres.CreateDatabaseAsync(cancellationToken: Ct);
        var migrations = Migration.LoadEmbedded()
            .Append(Migration.FromScript("0901_broken.sql", "CREATE TABLE half_done (id integer); SELECT 1 / 0;"))
            .ToList();

        var error = await Assert.ThrowsAsync<MigrationException>(() => MigrationRunner.ApplyAsync(db, migrations, new RecordingLogger(), Ct));

        Assert.Contains("0901_broken.sql", error.Message, StringComparison.Ordinal);
        Assert.Null(await TestDb.ScalarAsync<string?>(db, "SELECT to_regclass('half_done')::text"));
        Assert.Equal(0L, await TestDb.ScalarAsync<long>(db, "SELECT count(*) FROM schema_migrations WHERE version = 901"));
        // The earlier migrations stay applied, and the lock was released: a fixed run goes through.
        var again = await MigrationRunner.ApplyAsync(db, new RecordingLogger(), Ct);
        Assert.Empty(again.Applied);
    }

    [Fact(Timeout = Timeout)]
    public async Task Each_test_database_is_isolated_from_the_others()
    {
        var first = await postgres.CreateDatabaseAsync(cancellationToken: Ct);
        var second = await postgres.CreateDatabaseAsync(cancellationToken: Ct);

        await MigrationRunner.ApplyAsync(first, new RecordingLogger(), Ct);

        Assert.NotNull(await TestDb.ScalarAsync<string?>(first, "SELECT to_regclass('vehicles')::text"));
        Assert.Null(await TestDb.ScalarAsync<string?>(second, "SELECT to_regclass('vehicles')::text"));
    }
}
