using System.Globalization;
using Fleet.Silo.Persistence;
using Fleet.TestSupport;
using Npgsql;

namespace Fleet.Silo.Tests.Persistence;

public sealed class PositionPartitionTests(PostgresFixture postgres)
{
    private const int Timeout = 60_000;
    private const int DaysAheadInMigration = 7;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact(Timeout = Timeout)]
    public async Task Migration_creates_a_partition_for_each_utc_day_from_today_to_a_week_ahead_and_a_default()
    {
        var db = await TestDb.CreateMigratedAsync(postgres);
        var today = await UtcTodayAsync(db);

        var partitions = await PartitionsAsync(db);

        var expected = Enumerable.Range(0, DaysAheadInMigration + 1).Select(i => PartitionName(today.AddDays(i))).Append("positions_default");
        Assert.Equal(expected.Order(StringComparer.Ordinal), partitions.Order(StringComparer.Ordinal));
        var bound = await TestDb.ScalarAsync<string>(db, "SELECT pg_get_expr(relpartbound, oid) FROM pg_class WHERE relname = $1", PartitionName(today));
        Assert.Contains(today.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture) + " 00:00:00+00", bound, StringComparison.Ordinal);
    }

    [Fact(Timeout = Timeout)]
    public async Task Ensuring_partitions_is_idempotent_and_only_adds_missing_days()
    {
        var db = await TestDb.CreateMigratedAsync(postgres);

        var again = await PartitionMaintenance.EnsurePositionPartitionsAsync(db, DaysAheadInMigration, Ct);
        var further = await PartitionMaintenance.EnsurePositionPartitionsAsync(db, DaysAheadInMigration + 3, Ct);
        var thenAgain = await PartitionMaintenance.EnsurePositionPartitionsAsync(db, DaysAheadInMigration + 3, Ct);

        Assert.Equal(0, again);
        Assert.Equal(3, further);
        Assert.Equal(0, thenAgain);
        Assert.Equal(DaysAheadInMigration + 3 + 1 + 1, (await PartitionsAsync(db)).Count);
    }

    [Fact(Timeout = Timeout)]
    public async Task Concurrent_callers_create_each_partition_once_without_errors()
    {
        var db = await TestDb.CreateMigratedAsync(postgres);

        var created = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => PartitionMaintenance.EnsurePositionPartitionsAsync(db, 20, Ct)));

        Assert.Equal(20 - DaysAheadInMigration, created.Sum());
    }

    [Fact(Timeout = Timeout)]
    public async Task A_position_for_today_lands_in_todays_partition()
    {
        var db = await TestDb.CreateMigratedAsync(postgres);
        var today = await UtcTodayAsync(db);

        var partition = await InsertPositionAsync(db, today.ToDateTime(new TimeOnly(12, 0), DateTimeKind.Utc));

        Assert.Equal(PartitionName(today), partition);
    }

    [Fact(Timeout = Timeout)]
    public async Task A_position_far_in_the_future_lands_in_the_default_partition_instead_of_failing()
    {
        var db = await TestDb.CreateMigratedAsync(postgres);
        var today = await UtcTodayAsync(db);

        var partition = await InsertPositionAsync(db, today.AddDays(400).ToDateTime(TimeOnly.MinValue, DateTimeKind.Utc));

        Assert.Equal("positions_default", partition);
    }

    [Fact(Timeout = Timeout)]
    public async Task Creating_a_days_partition_moves_that_days_rows_out_of_the_default_partition()
    {
        var db = await TestDb.CreateMigratedAsync(postgres);
        var today = await UtcTodayAsync(db);
        var day = today.AddDays(DaysAheadInMigration + 2);
        await InsertPositionAsync(db, day.ToDateTime(new TimeOnly(23, 59, 59), DateTimeKind.Utc));
        await InsertPositionAsync(db, day.AddDays(1).ToDateTime(TimeOnly.MinValue, DateTimeKind.Utc));

        await PartitionMaintenance.EnsurePositionPartitionsAsync(db, DaysAheadInMigration + 2, Ct);

        var placement = await TestDb.QueryStringsAsync(db, "SELECT tableoid::regclass::text FROM positions ORDER BY ts");
        Assert.Equal([PartitionName(day), "positions_default"], placement);
    }

    private static string PartitionName(DateOnly day) => "positions_p" + day.ToString("yyyyMMdd", CultureInfo.InvariantCulture);

    private static Task<DateOnly> UtcTodayAsync(NpgsqlDataSource db) =>
        TestDb.ScalarAsync<DateOnly>(db, "SELECT (now() AT TIME ZONE 'UTC')::date");

    private static Task<List<string>> PartitionsAsync(NpgsqlDataSource db) =>
        TestDb.QueryStringsAsync(db, "SELECT inhrelid::regclass::text FROM pg_inherits WHERE inhparent = 'positions'::regclass");

    private static async Task<string> InsertPositionAsync(NpgsqlDataSource db, DateTime ts) =>
        await TestDb.ScalarAsync<string>(
            db,
            "INSERT INTO positions (vehicle_id, ts, seq, lat, lon) VALUES (1, $1, 1, 40.84, 111.75) RETURNING tableoid::regclass::text",
            ts);
}
