using System.Diagnostics;
using Fleet.Silo.Grains;
using Fleet.Silo.Shards;
using Fleet.Silo.Tests.Persistence;
using Fleet.TestSupport;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Npgsql;
using static Fleet.Silo.Tests.Shards.ShardKit;

namespace Fleet.Silo.Tests.Shards;

public sealed class ShardHostTests(PostgresFixture postgres)
{
    private const int Timeout = 60_000;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact(Timeout = Timeout)]
    public async Task Ten_thousand_reports_for_500_vehicles_are_stored_exactly_once_and_commit_only_once_visible()
    {
        var db = await TestDb.CreateMigratedAsync(postgres);
        await SeedVehiclesAsync(db, 500);
        var sink = new RecordingLiveStateSink();
        await using var host = CreateHost(db, new SiloOptions { ShardCount = 16, MaxBatchRows = 700, FlushInterval = TimeSpan.FromMilliseconds(20) }, sink: sink);
        await host.StartAsync(Ct);

        // Vehicle v's k-th fix (k = 0..19) has ts = t0 + k s and seq = globally unique; shuffled, so plenty arrive late.
        var t0 = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() - 60_000;
        var reports = Enumerable.Range(0, 10_000)
            .Select(j => (Vehicle: (j % 500) + 1, K: j / 500, Seq: (uint)j))
            .Select(r => Report(r.Vehicle, Fix(t0 + (r.K * 1000), r.Seq, 40 + (r.Vehicle * 0.001) + (r.K * 0.0001), 111 + (r.Vehicle * 0.001), spd: 30), t0))
            .ToArray();
        new Random(42).Shuffle(reports);

        // Another pool, so visibility is checked on a connection the writer never used.
        await using var observer = NpgsqlDataSource.Create(db.ConnectionString);
        var checks = new List<Task<(int Expected, long Visible)>>();
        foreach (var chunk in reports.Chunk(100))
        {
            var committed = await host.SubmitAsync(chunk, Ct);
            checks.Add(VisibleOnceCommittedAsync(observer, committed, chunk.Select(r => (long)r.Fix.Seq).ToArray()));
        }

        var results = await Task.WhenAll(checks);
        Assert.All(results, r => Assert.Equal(r.Expected, r.Visible));

        // Redelivery of already-stored reports commits without storing them again.
        await host.SubmitAndCommitAsync(reports[..300]);
        Assert.Equal(10_000L, await TestDb.ScalarAsync<long>(db, "SELECT count(*) FROM positions"));
        Assert.Equal(10_000L, await TestDb.ScalarAsync<long>(db, "SELECT count(DISTINCT (vehicle_id, ts, seq)) FROM positions"));

        for (var v = 1; v <= 500; v++)
        {
            var live = host.Live(v);
            Assert.Equal(t0 + 19_000, live.Ts);
            Assert.Equal(40 + (v * 0.001) + (19 * 0.0001), live.Lat, 9);
            Assert.Equal(MotionState.Moving, live.Motion);
        }

        Assert.Equal(500, sink.States.Select(s => s.VehicleId).Distinct().Count());
        Assert.Equal(new LiveStats(500, 500, 500, 0, 0), host.GetLiveStats());
        Assert.False(host.Health.Degraded);
    }

    private static async Task<(int Expected, long Visible)> VisibleOnceCommittedAsync(NpgsqlDataSource observer, Task committed, long[] seqs)
    {
        await committed;
        await using var command = observer.CreateCommand("SELECT count(*) FROM positions WHERE seq = ANY($1)");
        command.Parameters.Add(new NpgsqlParameter<long[]> { TypedValue = seqs });
        return (seqs.Length, (long)(await command.ExecuteScalarAsync(Ct))!);
    }

    [Fact(Timeout = Timeout)]
    public async Task A_late_backlog_is_stored_completely_and_the_live_marker_keeps_the_newer_fix()
    {
        var db = await TestDb.CreateMigratedAsync(postgres);
        await using var host = CreateHost(db, new SiloOptions { ShardCount = 4, FlushInterval = TimeSpan.FromMilliseconds(10) });
        await host.StartAsync(Ct);
        var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        var newest = Fix(now - 1000, 5000, 40.85, 111.76, spd: 0, odo: 500);
        await host.SubmitAndCommitAsync(Report(7, newest, now));
        var before = host.Live(7);

        // Store-and-forward: the terminal sends its 1,000-fix backlog after the newer fix, in two payloads.
        var backlog = Enumerable.Range(0, 1000)
            .Select(i => Report(7, Fix(now - 2_000_000 + (i * 1000), (uint)i, 40 + (i * 0.0001), 111, spd: 50, odo: 400 + (i * 0.01)), now + 10))
            .ToArray();
        await host.SubmitAndCommitAsync(backlog[500..]);
        await host.SubmitAndCommitAsync(backlog[..500]);

        Assert.Equal(1001L, await TestDb.ScalarAsync<long>(db, "SELECT count(*) FROM positions WHERE vehicle_id = 7"));
        var after = host.Live(7);
        Assert.Equal((newest.Ts, newest.Lat, newest.Lon, MotionState.Stopped, (double?)500.0), (after.Ts, after.Lat, after.Lon, after.Motion, after.Odo));
        Assert.Equal(before.TodayKm, after.TodayKm);
        Assert.Equal(now + 10, after.LastReportAtMs);

        // A redelivered copy of the newest fix changes nothing at all.
        await host.SubmitAndCommitAsync(Report(7, newest, now + 20));
        Assert.Same(after, host.Live(7));
        Assert.Equal(1001L, await TestDb.ScalarAsync<long>(db, "SELECT count(*) FROM positions WHERE vehicle_id = 7"));
    }

    [Fact(Timeout = Timeout)]
    public async Task Motion_goes_from_moving_to_stopped_and_to_parked_after_five_minutes_on_the_clock_or_on_event_time()
    {
        var db = await TestDb.CreateMigratedAsync(postgres);
        var time = new ManualTimeProvider(Morning);
        await using var host = CreateHost(db, ManualClockOptions, time);
        await host.StartAsync(Ct);

        await host.SubmitAndCommitAsync(Report(1, Fix(time.NowMs, 1, 40.84, 111.75, spd: 42, acc: true), time.NowMs));
        Assert.Equal(MotionState.Moving, host.Live(1).Motion);

        time.Advance(TimeSpan.FromSeconds(30));
        await host.SubmitAndCommitAsync(Report(1, Fix(time.NowMs, 2, 40.841, 111.75, spd: 0, acc: false), time.NowMs));
        Assert.Equal(MotionState.Stopped, host.Live(1).Motion);

        time.Advance(TimeSpan.FromMinutes(4));
        await host.SweepAsync(flushSnapshots: false, Ct);
        Assert.Equal(MotionState.Stopped, host.Live(1).Motion);

        time.Advance(TimeSpan.FromMinutes(1));
        await host.SweepAsync(flushSnapshots: false, Ct);
        Assert.Equal(MotionState.Parked, host.Live(1).Motion);

        // Driving off ends the stop; and a backlog showing six stationary minutes parks it on event time alone.
        time.Advance(TimeSpan.FromSeconds(10));
        var t = time.NowMs;
        await host.SubmitAndCommitAsync(Report(1, Fix(t, 3, 40.842, 111.75, spd: 35, acc: true), t));
        Assert.Equal(MotionState.Moving, host.Live(1).Motion);
        await host.SubmitAndCommitAsync(
            Report(1, Fix(t + 60_000, 4, 40.843, 111.75, spd: 1), t),
            Report(1, Fix(t + 200_000, 5, 40.843, 111.75, spd: 0), t));
        Assert.Equal(MotionState.Stopped, host.Live(1).Motion);
        await host.SubmitAndCommitAsync(Report(1, Fix(t + 420_000, 6, 40.843, 111.75, spd: 0), t));
        Assert.Equal(MotionState.Parked, host.Live(1).Motion);
        Assert.Equal(new LiveStats(1, 1, 0, 0, 1), host.GetLiveStats());
    }

    [Fact(Timeout = Timeout)]
    public async Task Todays_mileage_follows_odometer_deltas_and_resets_at_Shanghai_midnight_not_at_UTC_midnight()
    {
        var db = await TestDb.CreateMigratedAsync(postgres);

        // Registered, so the hour-long clock jumps (background sweeps deactivate the idle grain) restore it from its snapshot.
        await SeedVehiclesAsync(db, 3);
        var time = new ManualTimeProvider(Morning.AddHours(-4));
        await using var host = CreateHost(db, ManualClockOptions, time);
        await host.StartAsync(Ct);
        var shanghai = TimeSpan.FromHours(8);
        var seq = 0u;

        async Task<VehicleLiveState> DriveAsync(DateTimeOffset at, double odo, double lat = 40.84)
        {
            time.AdvanceTo(at);
            await host.SubmitAndCommitAsync(Report(3, Fix(at.ToUnixTimeMilliseconds(), ++seq, lat, 111.75, spd: 60, odo: odo), time.NowMs));
            return host.Live(3);
        }

        var first = await DriveAsync(new DateTimeOffset(2025, 6, 2, 7, 0, 0, shanghai), 1000);
        Assert.Equal((0.0, new DateOnly(2025, 6, 2)), (first.TodayKm, first.TodayDate));
        Assert.Equal(40.0, (await DriveAsync(new DateTimeOffset(2025, 6, 2, 7, 50, 0, shanghai), 1040)).TodayKm, 6);

        // 08:00 in Shanghai is midnight UTC: the same local day, nothing resets.
        var afterUtcMidnight = await DriveAsync(new DateTimeOffset(2025, 6, 2, 8, 10, 0, shanghai), 1055);
        Assert.Equal((55.0, new DateOnly(2025, 6, 2)), (Math.Round(afterUtcMidnight.TodayKm, 6), afterUtcMidnight.TodayDate));
        Assert.Equal(100.0, (await DriveAsync(new DateTimeOffset(2025, 6, 2, 23, 50, 0, shanghai), 1100)).TodayKm, 6);

        // Local midnight resets it; the segment that crosses midnight counts for the new day.
        var nextDay = await DriveAsync(new DateTimeOffset(2025, 6, 3, 0, 10, 0, shanghai), 1112);
        Assert.Equal((12.0, new DateOnly(2025, 6, 3)), (Math.Round(nextDay.TodayKm, 6), nextDay.TodayDate));
        Assert.Equal(20.0, (await DriveAsync(new DateTimeOffset(2025, 6, 3, 0, 40, 0, shanghai), 1120)).TodayKm, 6);

        // Without an odometer the distance between the fixes counts: 0.01° of latitude is 1.112 km.
        time.AdvanceTo(new DateTimeOffset(2025, 6, 3, 0, 45, 0, shanghai));
        await host.SubmitAndCommitAsync(Report(3, Fix(time.NowMs, ++seq, 40.85, 111.75, spd: 60), time.NowMs));
        Assert.Equal(21.112, host.Live(3).TodayKm, 2);

        // A vehicle that stops reporting still gets a fresh day at the next local midnight.
        time.AdvanceTo(new DateTimeOffset(2025, 6, 4, 0, 0, 1, shanghai));
        await host.SweepAsync(flushSnapshots: false, Ct);
        Assert.Equal((0.0, new DateOnly(2025, 6, 4)), (host.Live(3).TodayKm, host.Live(3).TodayDate));
    }

    [Fact(Timeout = Timeout)]
    public async Task Snapshots_are_stored_after_the_interval_and_a_new_host_reactivates_grains_from_them()
    {
        var db = await TestDb.CreateMigratedAsync(postgres);
        await SeedVehiclesAsync(db, 3);
        var time = new ManualTimeProvider(Morning);
        var t = time.NowMs;
        var before = new Dictionary<long, VehicleLiveState>();
        await using (var first = CreateHost(db, ManualClockOptions, time))
        {
            await first.StartAsync(Ct);
            for (var v = 1; v <= 3; v++)
            {
                await first.SubmitAndCommitAsync(
                    Report(v, Fix(t - 300_000, 1, 40.8, 111.7, spd: 50, odo: 100 * v), t),
                    Report(v, Fix(t, 2, 40.81 + v, 111.7, spd: 50, odo: (100 * v) + 7.5), t));
            }

            // Vehicle 99 is not in the registry: its snapshot is skipped, not fatal to the batch.
            await first.SubmitAndCommitAsync(Report(99, Fix(t, 1, 40.8, 111.7, spd: 0), t));

            time.Advance(TimeSpan.FromSeconds(4));
            Assert.Equal(0, await first.SweepAsync(flushSnapshots: false, Ct));
            Assert.Equal(0L, await TestDb.ScalarAsync<long>(db, "SELECT count(*) FROM vehicle_state"));

            time.Advance(TimeSpan.FromSeconds(1));
            Assert.Equal(3, await first.SweepAsync(flushSnapshots: false, Ct));
            for (var v = 1; v <= 3; v++)
            {
                before[v] = first.Live(v);
                Assert.Equal(before[v].Version, await TestDb.ScalarAsync<long>(db, "SELECT version FROM vehicle_state WHERE vehicle_id = $1", (long)v));
            }

            // Changed after the last snapshot: the graceful stop writes it.
            await first.SetOnlineAsync(2, online: false, time.NowMs, Ct);
            before[2] = first.Live(2);
        }

        Assert.Equal(before[2].Version, await TestDb.ScalarAsync<long>(db, "SELECT version FROM vehicle_state WHERE vehicle_id = 2"));

        await using var second = CreateHost(db, ManualClockOptions, time);
        await second.StartAsync(Ct);
        Assert.False(second.TryGetLiveState(1, out _));
        for (var v = 1; v <= 3; v++)
        {
            // A status message activates the grain; "online" for vehicle 1/3 changes nothing, so the state is the stored one.
            await second.SetOnlineAsync(v, online: v != 2, t, Ct);
            Assert.Equal(before[v], second.Live(v));
        }

        // The odometer chain carries on from the snapshot: 2.5 km more today.
        await second.SubmitAndCommitAsync(Report(1, Fix(t + 60_000, 3, 40.82, 111.7, spd: 50, odo: 110), t + 60_000));
        Assert.Equal(10.0, second.Live(1).TodayKm, 6);
        Assert.Equal(before[1].Version + 1, second.Live(1).Version);
    }

    [Fact(Timeout = Timeout)]
    public async Task An_older_snapshot_version_never_overwrites_a_newer_one()
    {
        var db = await TestDb.CreateMigratedAsync(postgres);
        await SeedVehiclesAsync(db, 1);
        var time = new ManualTimeProvider(Morning);
        await using var host = CreateHost(db, ManualClockOptions, time);
        await host.StartAsync(Ct);
        await host.SubmitAndCommitAsync(Report(1, Fix(time.NowMs, 1, 40.8, 111.7, spd: 0), time.NowMs));
        Assert.Equal(1, await host.SweepAsync(flushSnapshots: true, Ct));

        // Another writer (say, the shard's next owner) has stored a newer snapshot meanwhile.
        await TestDb.ExecuteAsync(db, "UPDATE vehicle_state SET version = 1000, state = jsonb_set(state, '{state,lat}', '12.5') WHERE vehicle_id = 1");
        await host.SubmitAndCommitAsync(Report(1, Fix(time.NowMs + 1000, 2, 40.9, 111.7, spd: 0), time.NowMs));
        Assert.True(host.Live(1).Version < 1000);
        Assert.Equal(0, await host.SweepAsync(flushSnapshots: true, Ct));
        Assert.Equal(1000L, await TestDb.ScalarAsync<long>(db, "SELECT version FROM vehicle_state WHERE vehicle_id = 1"));
        Assert.Equal(["12.5"], await TestDb.QueryStringsAsync(db, "SELECT state->'state'->>'lat' FROM vehicle_state WHERE vehicle_id = 1"));

        // The same through the store directly, in either order.
        var store = new VehicleStateStore(db);
        var snapshot = VehicleStateStore.Serialize(new VehicleGrainSnapshot(host.Live(1), 2, -1, 0, null));
        Assert.Equal(1, await store.SaveAsync([new StoredSnapshot(1, 2000, snapshot)], Ct));
        Assert.Equal(0, await store.SaveAsync([new StoredSnapshot(1, 1999, snapshot)], Ct));
        Assert.Equal(2000L, (await store.LoadAsync([1], Ct)).Single().Version);
    }

    [Fact(Timeout = Timeout)]
    public async Task A_silent_terminal_goes_offline_after_the_timeout_and_an_offline_status_takes_it_offline_at_once()
    {
        var db = await TestDb.CreateMigratedAsync(postgres);
        var time = new ManualTimeProvider(Morning);
        await using var host = CreateHost(db, ManualClockOptions, time);
        await host.StartAsync(Ct);
        await host.SubmitAndCommitAsync(Report(5, Fix(time.NowMs, 1, 40.8, 111.7, spd: 0), time.NowMs));
        Assert.True(host.Live(5).Online);

        time.Advance(TimeSpan.FromMinutes(4));
        await host.SweepAsync(flushSnapshots: false, Ct);
        Assert.True(host.Live(5).Online);
        time.Advance(TimeSpan.FromMinutes(1));
        await host.SweepAsync(flushSnapshots: false, Ct);
        Assert.False(host.Live(5).Online);

        await host.SubmitAndCommitAsync(Report(5, Fix(time.NowMs, 2, 40.8, 111.7, spd: 0), time.NowMs));
        Assert.True(host.Live(5).Online);
        await host.SetOnlineAsync(5, online: false, time.NowMs, Ct);
        Assert.False(host.Live(5).Online);
        await host.SetOnlineAsync(5, online: true, time.NowMs, Ct);
        Assert.True(host.Live(5).Online);
    }

    [Fact(Timeout = Timeout)]
    public async Task An_idle_grain_is_deactivated_only_after_its_snapshot_is_stored_and_stays_on_the_map()
    {
        var db = await TestDb.CreateMigratedAsync(postgres);
        await SeedVehiclesAsync(db, 1);
        var time = new ManualTimeProvider(Morning);

        // Idle after 2 min: the clock then never reaches the 10-min background sweep, so only these sweeps run.
        await using var host = CreateHost(db, ManualClockOptions with { IdleDeactivation = TimeSpan.FromMinutes(2) }, time);
        await host.StartAsync(Ct);
        await host.SubmitAndCommitAsync(Report(1, Fix(time.NowMs, 1, 40.8, 111.7, spd: 0), time.NowMs));
        Assert.Equal(1, host.ActiveGrains);

        time.Advance(TimeSpan.FromMinutes(2.5));
        Assert.Equal(1, await host.SweepAsync(flushSnapshots: false, Ct));
        Assert.Equal(1, host.ActiveGrains);
        await host.SweepAsync(flushSnapshots: false, Ct);
        Assert.Equal(0, host.ActiveGrains);
        Assert.Equal(host.Live(1).Version, await TestDb.ScalarAsync<long>(db, "SELECT version FROM vehicle_state WHERE vehicle_id = 1"));

        // The next report re-activates it from that snapshot.
        await host.SubmitAndCommitAsync(Report(1, Fix(time.NowMs, 2, 40.8, 111.7, spd: 0), time.NowMs));
        Assert.Equal(1, host.ActiveGrains);
        Assert.Equal(MotionState.Stopped, host.Live(1).Motion);
    }

    [Fact(Timeout = Timeout)]
    public async Task Options_bind_from_Fleet_Silo_and_out_of_range_values_are_refused()
    {
        static SiloOptions Resolve(Dictionary<string, string?> settings)
        {
            var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
            using var provider = new ServiceCollection().AddFleetSilo(configuration).BuildServiceProvider();
            return provider.GetRequiredService<IOptions<SiloOptions>>().Value;
        }

        var bound = Resolve(new() { ["Fleet:Silo:ShardCount"] = "8", ["Fleet:Silo:FlushInterval"] = "00:00:00.020" });
        Assert.Equal(new SiloOptions { ShardCount = 8, FlushInterval = TimeSpan.FromMilliseconds(20) }, bound);
        Assert.Equal((5000, TimeSpan.FromMinutes(30), 5.0), (bound.MaxBatchRows, bound.IdleDeactivation, bound.MovingSpeedKmh));

        var refused = Assert.Throws<OptionsValidationException>(() => Resolve(new() { ["Fleet:Silo:ShardCount"] = "0", ["Fleet:Silo:SnapshotInterval"] = "-00:00:01" }));
        Assert.Contains(refused.Failures, f => f.Contains("ShardCount", StringComparison.Ordinal));
        Assert.Contains(refused.Failures, f => f.Contains("SnapshotInterval", StringComparison.Ordinal));

        // One shard host: the singleton is also the hosted service that starts and stops it. The registry geofence lookup
        // starts before it, so the first fixes already see the lots.
        var services = new ServiceCollection().AddLogging().AddSingleton(NpgsqlDataSource.Create("Host=127.0.0.1;Database=unused"));
        await using var wired = services.AddFleetSilo(new ConfigurationBuilder().Build()).BuildServiceProvider();
        var hosted = wired.GetServices<IHostedService>().ToList();
        Assert.Equal(2, hosted.Count);
        Assert.Same(wired.GetRequiredService<Fleet.Silo.Registry.RegistryGeofenceLookup>(), hosted[0]);
        Assert.Same(wired.GetRequiredService<ShardHost>(), hosted[1]);
        Assert.Same(hosted[0], wired.GetRequiredService<IGeofenceLookup>());
        Assert.IsType<NullLiveStateSink>(wired.GetRequiredService<ILiveStateSink>());
    }

    [Fact(Timeout = Timeout)]
    public async Task Throughput_of_200000_reports_through_the_host_is_reported()
    {
        const int Vehicles = 2000;
        const int Total = 200_000;
        const int PerSubmission = 50;
        var db = await TestDb.CreateMigratedAsync(postgres);
        await using var host = CreateHost(db, new SiloOptions());
        await host.StartAsync(Ct);

        var t0 = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() - 3_600_000;
        var submissions = Enumerable.Range(0, Total / PerSubmission)
            .Select(s => Enumerable.Range(s * PerSubmission, PerSubmission)
                .Select(j => Report((j % Vehicles) + 1, Fix(t0 + ((j / Vehicles) * 1000), (uint)j, 40 + (j % 97 * 0.001), 111 + (j % 89 * 0.001), spd: j % 60, odo: 1000 + (j / Vehicles)), t0))
                .ToArray())
            .ToArray();

        var allocatedBefore = GC.GetTotalAllocatedBytes(precise: true);
        var stopwatch = Stopwatch.StartNew();
        var commits = new Task[submissions.Length];
        for (var i = 0; i < submissions.Length; i++)
        {
            commits[i] = await host.SubmitAsync(submissions[i], Ct);
        }

        var accepted = stopwatch.Elapsed;
        await Task.WhenAll(commits);
        var elapsed = stopwatch.Elapsed;
        var allocated = GC.GetTotalAllocatedBytes(precise: true) - allocatedBefore;

        var message = $"Shard host: {Total:N0} reports ({Vehicles} vehicles, {PerSubmission}/submission) committed in {elapsed.TotalMilliseconds:F0} ms " +
            $"= {Total / elapsed.TotalSeconds:N0} reports/s (all accepted after {accepted.TotalMilliseconds:F0} ms); " +
            $"{(double)allocated / Total:F0} bytes allocated per report (whole process, COPY included)";
        TestContext.Current.SendDiagnosticMessage(message);
        TestContext.Current.TestOutputHelper?.WriteLine(message);
        Assert.Equal((long)Total, await TestDb.ScalarAsync<long>(db, "SELECT count(*) FROM positions"));
    }
}
