using System.Text;
using Fleet.Silo.Grains;
using Fleet.Silo.Shards;
using Fleet.Silo.Tests.Persistence;
using Fleet.TestSupport;
using static Fleet.Silo.Tests.Shards.ShardKit;

namespace Fleet.Silo.Tests.Shards;

/// <summary>
/// What happens inside one drain of a shard queue (reports and commands drained together), and rows the database
/// refuses. A gate in the live sink holds the shard loop, so the next drain is exactly what the test queued.
/// </summary>
public sealed class ShardDrainTests(PostgresFixture postgres)
{
    private const int Timeout = 60_000;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    // One shard, so every vehicle shares the drain; no background sweep or flush timer on the manual clock.
    private static SiloOptions OneShard => ManualClockOptions with { ShardCount = 1, IdleDeactivation = TimeSpan.FromMinutes(2) };

    [Fact(Timeout = Timeout)]
    public async Task A_row_the_database_refuses_is_recorded_as_a_reject_and_its_submission_still_commits()
    {
        var db = await TestDb.CreateMigratedAsync(postgres);
        await SeedVehiclesAsync(db, 2);
        await TestDb.ExecuteAsync(db, "INSERT INTO terminals (id, vehicle_id, credential_hash) VALUES ('T-1', 1, 'x')");
        await using var host = CreateHost(db, OneShard with { MaxBatchRows = 100 });
        await host.StartAsync(Ct);
        var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();

        // The parser refuses these now; the store must still survive one that slips through (an older gateway).
        var poison = Encoding.UTF8.GetBytes("""{"x":"\u0000"}""");
        var good = Encoding.UTF8.GetBytes("""{"rpm":2100}""");
        InboundReport[] reports =
        [
            new(1, Fix(now, 1, 40.8, 111.7), now, good),
            new(1, Fix(now, 2, 40.8, 111.7), now, poison),
            new(2, Fix(now, 1, 40.8, 111.7), now, default),
            new(7, Fix(now, 1, 40.8, 111.7), now, poison),
        ];

        var committed = await host.SubmitAsync(reports, Ct);
        await committed.WaitAsync(TimeSpan.FromSeconds(30), Ct);

        Assert.Equal(["1/1", "2/1"], await TestDb.QueryStringsAsync(db, "SELECT vehicle_id || '/' || seq FROM positions ORDER BY vehicle_id, seq"));
        Assert.Equal(
            ["T-1|StoreRefused|22P05|" + Convert.ToHexString(poison), "vehicle:7|StoreRefused|22P05|" + Convert.ToHexString(poison)],
            await TestDb.QueryStringsAsync(db, "SELECT terminal_id || '|' || reason || '|' || field || '|' || upper(encode(payload_head, 'hex')) FROM telemetry_rejects ORDER BY terminal_id"));
    }

    [Fact(Timeout = Timeout)]
    public async Task A_status_for_a_vehicle_the_same_drain_sweeps_idle_is_applied_and_fails_nothing()
    {
        var db = await TestDb.CreateMigratedAsync(postgres);
        await SeedVehiclesAsync(db, 2);
        var time = new ManualTimeProvider(Morning);
        var sink = new GateSink();
        await using var host = CreateHost(db, OneShard, time, sink);
        await host.StartAsync(Ct);
        await host.SubmitAndCommitAsync(Report(1, Fix(time.NowMs, 1, 40.8, 111.7, spd: 0), time.NowMs));

        // Past the idle time, and the snapshot stored: the next sweep deactivates vehicle 1.
        time.Advance(TimeSpan.FromMinutes(2.5));
        Assert.Equal(1, await host.SweepAsync(flushSnapshots: false, Ct));

        var held = await sink.HoldNextAsync(host, Report(2, Fix(time.NowMs, 1, 40.9, 111.8, spd: 0), time.NowMs));
        var sweep = host.SweepAsync(flushSnapshots: false, Ct);
        var status = host.SetOnlineAsync(1, online: false, time.NowMs, Ct);
        sink.Release();

        await Task.WhenAll(sweep, status, held).WaitAsync(TimeSpan.FromSeconds(30), Ct);
        Assert.False(host.Live(1).Online);
    }

    [Fact(Timeout = Timeout)]
    public async Task Statuses_and_reports_drained_together_apply_in_arrival_order()
    {
        var db = await TestDb.CreateMigratedAsync(postgres);
        await SeedVehiclesAsync(db, 2);
        var time = new ManualTimeProvider(Morning);
        var sink = new GateSink();
        await using var host = CreateHost(db, OneShard, time, sink);
        await host.StartAsync(Ct);
        await host.SubmitAndCommitAsync(Report(1, Fix(time.NowMs, 1, 40.8, 111.7, spd: 0), time.NowMs));
        Assert.True(host.Live(1).Online);

        // [offline, report]: the report came after, so the terminal is online.
        time.Advance(TimeSpan.FromSeconds(10));
        var held = await sink.HoldNextAsync(host, Report(2, Fix(time.NowMs, 1, 40.9, 111.8, spd: 0), time.NowMs));
        var status = host.SetOnlineAsync(1, online: false, time.NowMs, Ct);
        var report = await host.SubmitAsync(new[] { Report(1, Fix(time.NowMs, 2, 40.8, 111.7, spd: 0), time.NowMs) }, Ct);
        sink.Release();
        await Task.WhenAll(held, status, report).WaitAsync(TimeSpan.FromSeconds(30), Ct);
        Assert.True(host.Live(1).Online);

        // [report, offline]: the status came last, so the terminal is offline.
        time.Advance(TimeSpan.FromSeconds(10));
        held = await sink.HoldNextAsync(host, Report(2, Fix(time.NowMs, 2, 40.9, 111.8, spd: 0), time.NowMs));
        report = await host.SubmitAsync(new[] { Report(1, Fix(time.NowMs, 3, 40.8, 111.7, spd: 0), time.NowMs) }, Ct);
        status = host.SetOnlineAsync(1, online: false, time.NowMs, Ct);
        sink.Release();
        await Task.WhenAll(held, status, report).WaitAsync(TimeSpan.FromSeconds(30), Ct);
        Assert.False(host.Live(1).Online);
    }

    [Fact(Timeout = Timeout)]
    public async Task A_vehicles_live_report_sent_while_its_backlog_is_queued_is_applied_after_that_backlog()
    {
        var db = await TestDb.CreateMigratedAsync(postgres);
        await SeedVehiclesAsync(db, 2);
        var sink = new GateSink();
        await using var host = CreateHost(db, OneShard with { BacklogRowsInFlight = 10 }, sink: sink);
        await host.StartAsync(Ct);
        var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();

        // Both queued while the loop is held: 50 backlog fixes (5 passes at 10 rows), then the vehicle's live fix.
        var held = await sink.HoldNextAsync(host, Report(2, Fix(now, 1, 40.9, 111.8, spd: 0), now));
        var backlog = Enumerable.Range(0, 50)
            .Select(i => Report(1, Fix(now - 3_600_000 + (i * 1000), (uint)(100 + i), 40 + (i * 0.0001), 111, spd: 50), now))
            .ToArray();
        var backlogCommitted = host.SubmitBacklog(backlog);
        var live = await host.SubmitAsync(new[] { Report(1, Fix(now, 1, 40.8, 111.7, spd: 0), now) }, Ct);
        sink.Release();
        await Task.WhenAll(held, backlogCommitted, live).WaitAsync(TimeSpan.FromSeconds(30), Ct);

        // Applied before the live fix, the backlog moved the vehicle on pass by pass (late, it would never show).
        var seen = sink.Seen(1);
        Assert.Contains(backlog[^1].Fix.Ts, seen);
        Assert.Equal(now, seen[^1]);
        for (var i = 1; i < seen.Count; i++)
        {
            Assert.True(seen[i] >= seen[i - 1], $"state {i} went back from ts {seen[i - 1]} to {seen[i]}");
        }

        Assert.Equal(51L, await TestDb.ScalarAsync<long>(db, "SELECT count(*) FROM positions WHERE vehicle_id = 1"));
    }

    /// <summary>Blocks the shard loop in its publish step when armed, until released; records each vehicle's published ts.</summary>
    private sealed class GateSink : ILiveStateSink
    {
        private readonly SemaphoreSlim _entered = new(0);
        private readonly ManualResetEventSlim _open = new(true);
        private readonly List<(long VehicleId, long Ts)> _seen = [];

        public List<long> Seen(long vehicleId)
        {
            lock (_seen)
            {
                return [.. _seen.Where(s => s.VehicleId == vehicleId).Select(s => s.Ts)];
            }
        }

        /// <summary>Submits <paramref name="report"/> and returns once the shard loop is held publishing it.</summary>
        public async Task<Task> HoldNextAsync(ShardHost host, InboundReport report)
        {
            _open.Reset();
            var committed = await host.SubmitAsync(new[] { report }, Ct);
            await _entered.WaitAsync(Ct);
            return committed;
        }

        public void Release() => _open.Set();

        public void OnChanged(ReadOnlySpan<VehicleLiveState> states)
        {
            lock (_seen)
            {
                foreach (var state in states)
                {
                    _seen.Add((state.VehicleId, state.Ts));
                }
            }

            if (!_open.IsSet)
            {
                _entered.Release();
                _open.Wait(TimeSpan.FromSeconds(30));
            }
        }
    }
}
