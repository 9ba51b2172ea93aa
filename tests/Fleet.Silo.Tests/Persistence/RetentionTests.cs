using System.Globalization;
using Fleet.Silo.Hosting;
using Fleet.Silo.Persistence;
using Fleet.TestSupport;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace Fleet.Silo.Tests.Persistence;

public sealed class RetentionTests(PostgresFixture postgres)
{
    private const int Timeout = 60_000;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact(Timeout = Timeout)]
    public async Task Partitions_whose_whole_day_is_past_the_retention_are_dropped_and_later_ones_kept()
    {
        var db = await TestDb.CreateMigratedAsync(postgres);
        var today = await UtcTodayAsync(db);
        foreach (var age in new[] { 40, 31, 30, 29 })
        {
            Assert.True(await PartitionMaintenance.EnsurePositionPartitionForAsync(db, today.AddDays(-age), Ct));
        }

        Assert.Equal(PartitionName(today.AddDays(-40)), await InsertPositionAsync(db, At(today.AddDays(-40), 12)));
        Assert.Equal(PartitionName(today.AddDays(-30)), await InsertPositionAsync(db, At(today.AddDays(-30), 23)));

        var dropped = await PartitionMaintenance.DropExpiredPositionPartitionsAsync(db, 30, Ct);
        var again = await PartitionMaintenance.DropExpiredPositionPartitionsAsync(db, 30, Ct);

        // Day -31 ends at day -30 00:00, which is more than 30 days ago; day -30 still has hours inside the retention.
        Assert.Equal([PartitionName(today.AddDays(-40)), PartitionName(today.AddDays(-31))], dropped);
        Assert.Empty(again);
        var partitions = await PartitionsAsync(db);
        Assert.DoesNotContain(PartitionName(today.AddDays(-40)), partitions);
        Assert.Contains(PartitionName(today.AddDays(-30)), partitions);
        Assert.Contains(PartitionName(today.AddDays(-29)), partitions);
        Assert.Contains(PartitionName(today), partitions);
        Assert.Contains("positions_default", partitions);
        Assert.Null(await TestDb.ScalarAsync<string>(db, "SELECT to_regclass($1)::text", PartitionName(today.AddDays(-40))));
        Assert.Equal(1L, await TestDb.ScalarAsync<long>(db, "SELECT count(*) FROM positions"));
    }

    [Fact(Timeout = Timeout)]
    public async Task The_default_partition_is_never_dropped_even_holding_rows_past_the_retention()
    {
        var db = await TestDb.CreateMigratedAsync(postgres);
        var today = await UtcTodayAsync(db);
        Assert.Equal("positions_default", await InsertPositionAsync(db, At(today.AddDays(-100), 6)));

        var dropped = await PartitionMaintenance.DropExpiredPositionPartitionsAsync(db, 1, Ct);
        var adopted = await PartitionMaintenance.AdoptDefaultPositionDaysAsync(db, 30, Ct);

        Assert.Empty(dropped);
        Assert.Empty(adopted);
        Assert.Contains("positions_default", await PartitionsAsync(db));
        Assert.Equal(["positions_default"], await TestDb.QueryStringsAsync(db, "SELECT tableoid::regclass::text FROM positions"));
    }

    [Fact(Timeout = Timeout)]
    public async Task Retention_outside_one_to_3650_days_is_refused()
    {
        var db = await TestDb.CreateMigratedAsync(postgres);

        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => PartitionMaintenance.DropExpiredPositionPartitionsAsync(db, 0, Ct));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => PartitionMaintenance.AdoptDefaultPositionDaysAsync(db, 3651, Ct));
        var error = await Assert.ThrowsAsync<PostgresException>(() => TestDb.ScalarAsync<string[]>(db, "SELECT drop_position_partitions(0)"));
        Assert.Contains("retention_days must be between 1 and 3650", error.MessageText, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(null, 400, true)]
    [InlineData("30", 30, true)]
    [InlineData("0", 0, false)]
    [InlineData("3651", 3651, false)]
    public void Retention_defaults_to_400_days_and_the_setting_is_validated(string? setting, int days, bool valid)
    {
        var settings = new Dictionary<string, string?> { ["Fleet:Database:ConnectionString"] = "Host=127.0.0.1;Database=fleet;Username=fleet" };
        if (setting is not null)
        {
            settings["Fleet:Database:RetentionDays"] = setting;
        }

        var services = new ServiceCollection();
        services.AddFleetDatabase(new ConfigurationBuilder().AddInMemoryCollection(settings).Build());
        using var provider = services.BuildServiceProvider();
        var options = provider.GetRequiredService<Microsoft.Extensions.Options.IOptions<DatabaseOptions>>();

        if (valid)
        {
            Assert.Equal(days, options.Value.RetentionDays);
        }
        else
        {
            var error = Assert.Throws<Microsoft.Extensions.Options.OptionsValidationException>(() => options.Value);
            Assert.Contains("RetentionDays", error.Message, StringComparison.Ordinal);
        }
    }

    [Fact(Timeout = Timeout)]
    public async Task Rows_of_an_old_day_in_the_default_partition_get_their_partition_and_move_there()
    {
        var db = await TestDb.CreateMigratedAsync(postgres);
        var today = await UtcTodayAsync(db);
        var backlogDay = today.AddDays(-20);
        await InsertPositionAsync(db, At(backlogDay, 0), seq: 1);
        await InsertPositionAsync(db, At(backlogDay, 23), seq: 2);
        await InsertPositionAsync(db, At(today.AddDays(-21), 12), seq: 3);
        await InsertPositionAsync(db, At(today.AddDays(-500), 12), seq: 4);

        var adopted = await PartitionMaintenance.AdoptDefaultPositionDaysAsync(db, 400, Ct);
        var again = await PartitionMaintenance.AdoptDefaultPositionDaysAsync(db, 400, Ct);

        Assert.Equal([PartitionName(today.AddDays(-21)), PartitionName(backlogDay)], adopted);
        Assert.Empty(again);
        var placement = await TestDb.QueryStringsAsync(db, "SELECT tableoid::regclass::text FROM positions ORDER BY seq");
        // The day past the retention stays in the default partition: it would only be dropped again.
        Assert.Equal([PartitionName(backlogDay), PartitionName(backlogDay), PartitionName(today.AddDays(-21)), "positions_default"], placement);
        var bound = await TestDb.ScalarAsync<string>(
            db,
            "SELECT pg_get_expr(relpartbound, oid) FROM pg_class WHERE relname = $1",
            PartitionName(backlogDay));
        Assert.Contains(backlogDay.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture) + " 00:00:00+00", bound, StringComparison.Ordinal);

        // A new report for that day goes straight to its partition now.
        Assert.Equal(PartitionName(backlogDay), await InsertPositionAsync(db, At(backlogDay, 12), seq: 5));
    }

    [Fact(Timeout = Timeout)]
    public async Task Creating_one_days_partition_is_idempotent_and_moves_only_that_days_rows()
    {
        var db = await TestDb.CreateMigratedAsync(postgres);
        var today = await UtcTodayAsync(db);
        var day = today.AddDays(-3);
        await InsertPositionAsync(db, At(day, 23), seq: 1);
        await InsertPositionAsync(db, At(day.AddDays(-1), 23), seq: 2);

        var created = await PartitionMaintenance.EnsurePositionPartitionForAsync(db, day, Ct);
        var createdAgain = await PartitionMaintenance.EnsurePositionPartitionForAsync(db, day, Ct);

        Assert.True(created);
        Assert.False(createdAgain);
        Assert.Equal([PartitionName(day), "positions_default"], await TestDb.QueryStringsAsync(db, "SELECT tableoid::regclass::text FROM positions ORDER BY seq"));
    }

    [Fact(Timeout = Timeout)]
    public async Task Concurrent_creating_adopting_and_dropping_serialise_without_errors()
    {
        var db = await TestDb.CreateMigratedAsync(postgres);
        var today = await UtcTodayAsync(db);
        await PartitionMaintenance.EnsurePositionPartitionForAsync(db, today.AddDays(-20), Ct);
        for (var age = 10; age <= 14; age++)
        {
            await InsertPositionAsync(db, At(today.AddDays(-age), 12), seq: (uint)age);
        }

        var calls = Enumerable.Range(0, 3).SelectMany(_ => new Func<Task>[]
        {
            () => PartitionMaintenance.EnsurePositionPartitionsAsync(db, 10, Ct),
            () => PartitionMaintenance.AdoptDefaultPositionDaysAsync(db, 12, Ct),
            () => PartitionMaintenance.DropExpiredPositionPartitionsAsync(db, 12, Ct),
        });
        await Task.WhenAll(calls.Select(call => Task.Run(call, Ct)));

        // Every backlog day within the 12 days got its partition, the older ones none; the expired partition went.
        var partitions = await PartitionsAsync(db);
        Assert.Contains(PartitionName(today.AddDays(-10)), partitions);
        Assert.Contains(PartitionName(today.AddDays(-12)), partitions);
        Assert.DoesNotContain(PartitionName(today.AddDays(-13)), partitions);
        Assert.DoesNotContain(PartitionName(today.AddDays(-20)), partitions);
        Assert.Contains(PartitionName(today.AddDays(10)), partitions);
        Assert.Equal(2L, await TestDb.ScalarAsync<long>(db, "SELECT count(*) FROM positions_default"));
    }

    [Fact(Timeout = Timeout)]
    public async Task Health_check_is_healthy_with_an_empty_default_partition_and_degraded_naming_the_days_when_it_has_rows()
    {
        var db = await TestDb.CreateMigratedAsync(postgres);
        var today = await UtcTodayAsync(db);
        using var monitor = new PositionsDefaultMonitor(db, TimeProvider.System);
        var check = new PositionsDefaultHealthCheck(monitor);

        var empty = await CheckAsync(check);
        await InsertPositionAsync(db, At(today.AddDays(-20), 8), seq: 1);
        await InsertPositionAsync(db, At(today.AddDays(-20), 9), seq: 2);
        await InsertPositionAsync(db, At(today.AddDays(-18), 9), seq: 3);
        var landing = await CheckAsync(check);
        await PartitionMaintenance.AdoptDefaultPositionDaysAsync(db, 400, Ct);
        var recovered = await CheckAsync(check);

        Assert.Equal(HealthStatus.Healthy, empty.Status);
        Assert.Equal(HealthStatus.Degraded, landing.Status);
        var expected = "reports are landing in positions_default: partitions missing for "
            + $"{today.AddDays(-20):yyyy-MM-dd}, {today.AddDays(-18):yyyy-MM-dd} (about 3 rows)";
        Assert.Equal(expected, landing.Description);
        Assert.Equal(3L, landing.Data["estimatedRows"]);
        Assert.Equal(HealthStatus.Healthy, recovered.Status);
        Assert.Equal(0L, monitor.Last!.EstimatedRows);
    }

    [Fact(Timeout = Timeout)]
    public async Task Health_check_lists_at_most_five_days_and_says_there_are_more()
    {
        var db = await TestDb.CreateMigratedAsync(postgres);
        var today = await UtcTodayAsync(db);
        for (var age = 30; age < 37; age++)
        {
            await InsertPositionAsync(db, At(today.AddDays(-age), 12), seq: (uint)age);
        }

        using var monitor = new PositionsDefaultMonitor(db, TimeProvider.System);
        var result = await CheckAsync(new PositionsDefaultHealthCheck(monitor));

        Assert.Equal(HealthStatus.Degraded, result.Status);
        Assert.EndsWith($"{today.AddDays(-32):yyyy-MM-dd}, … (about 7 rows)", result.Description, StringComparison.Ordinal);
        Assert.Equal(5, monitor.Last!.Days.Count);
        Assert.True(monitor.Last.MoreDays);
    }

    [Fact(Timeout = Timeout)]
    public async Task The_hosted_maintenance_adopts_backlog_days_and_drops_expired_partitions_at_start()
    {
        var db = await TestDb.CreateMigratedAsync(postgres);
        var today = await UtcTodayAsync(db);
        await PartitionMaintenance.EnsurePositionPartitionForAsync(db, today.AddDays(-45), Ct);
        await InsertPositionAsync(db, At(today.AddDays(-20), 12));
        var logs = new RecordingLoggerProvider();

        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Fleet:Database:ConnectionString"] = db.ConnectionString,
            ["Fleet:Database:RetentionDays"] = "40",
        });
        builder.Logging.AddProvider(logs);
        builder.Services.AddFleetDatabase(builder.Configuration);
        using var host = builder.Build();
        await host.StartAsync(Ct);
        try
        {
            var deadline = DateTime.UtcNow.AddSeconds(20);
            List<string> partitions;
            while (true)
            {
                partitions = await PartitionsAsync(db);
                if (partitions.Contains(PartitionName(today.AddDays(-20))) && !partitions.Contains(PartitionName(today.AddDays(-45))) || DateTime.UtcNow > deadline)
                {
                    break;
                }

                await Task.Delay(100, Ct);
            }

            Assert.Contains(PartitionName(today.AddDays(-20)), partitions);
            Assert.DoesNotContain(PartitionName(today.AddDays(-45)), partitions);
            await WaitForAsync(() => logs.Messages.Any(m => m.Contains("past the retention of 40 days", StringComparison.Ordinal)));
            Assert.Contains(logs.Messages, m => m.Contains(PartitionName(today.AddDays(-45)), StringComparison.Ordinal) && m.StartsWith("Information", StringComparison.Ordinal));
            Assert.Contains(logs.Messages, m => m.Contains(PartitionName(today.AddDays(-20)), StringComparison.Ordinal) && m.StartsWith("Warning", StringComparison.Ordinal));
            // The default-partition check is the maintenance's last step, after the drop that logged above.
            var monitor = host.Services.GetRequiredService<PositionsDefaultMonitor>();
            await WaitForAsync(() => monitor.Last is not null);
            Assert.False(monitor.Last?.HasRows ?? true);
        }
        finally
        {
            await host.StopAsync(Ct);
        }
    }

    private static async Task WaitForAsync(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (!condition() && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50, Ct);
        }
    }

    private static Task<HealthCheckResult> CheckAsync(PositionsDefaultHealthCheck check) =>
        check.CheckHealthAsync(new HealthCheckContext { Registration = new HealthCheckRegistration("positions-default", check, null, null) }, Ct);

    private static DateTime At(DateOnly day, int hour) => day.ToDateTime(new TimeOnly(hour, 0), DateTimeKind.Utc);

    private static string PartitionName(DateOnly day) => "positions_p" + day.ToString("yyyyMMdd", CultureInfo.InvariantCulture);

    private static Task<DateOnly> UtcTodayAsync(NpgsqlDataSource db) =>
        TestDb.ScalarAsync<DateOnly>(db, "SELECT (now() AT TIME ZONE 'UTC')::date");

    private static Task<List<string>> PartitionsAsync(NpgsqlDataSource db) =>
        TestDb.QueryStringsAsync(db, "SELECT inhrelid::regclass::text FROM pg_inherits WHERE inhparent = 'positions'::regclass");

    private static async Task<string> InsertPositionAsync(NpgsqlDataSource db, DateTime ts, uint seq = 1) =>
        await TestDb.ScalarAsync<string>(
            db,
            "INSERT INTO positions (vehicle_id, ts, seq, lat, lon) VALUES (1, $1, $2, 40.84, 111.75) RETURNING tableoid::regclass::text",
            ts,
            (long)seq);

    private sealed class RecordingLoggerProvider : ILoggerProvider
    {
        private readonly RecordingLogger _logger = new();

        public IReadOnlyCollection<string> Messages => _logger.Messages;

        public ILogger CreateLogger(string categoryName) => _logger;

        public void Dispose()
        {
        }
    }
}
