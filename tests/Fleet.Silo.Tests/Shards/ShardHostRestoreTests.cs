using System.Diagnostics;
using Fleet.Silo.Shards;
using Fleet.Silo.Tests.Persistence;
using Fleet.TestSupport;
using static Fleet.Silo.Tests.Shards.ShardKit;

namespace Fleet.Silo.Tests.Shards;

/// <summary>After a restart (or a crash) the shard host brings back every vehicle that has a stored snapshot.</summary>
public sealed class ShardHostRestoreTests(PostgresFixture postgres)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact(Timeout = 60_000)]
    public async Task A_started_host_activates_every_snapshotted_vehicle_before_any_report_arrives()
    {
        var db = await TestDb.CreateMigratedAsync(postgres);
        await SeedVehiclesAsync(db, 50);
        var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        await using (var first = CreateHost(db, new SiloOptions { ShardCount = 8 }))
        {
            await first.StartAsync(Ct);
            await first.SubmitAndCommitAsync([.. Enumerable.Range(1, 40).Select(v => Report(v, Fix(now - 1000, 7, 40 + (v * 0.001), 111.7, spd: 40), now))]);

            // A graceful stop writes every dirty snapshot.
            await first.StopAsync(Ct);
        }

        var sink = new RecordingLiveStateSink();
        await using var second = CreateHost(db, new SiloOptions { ShardCount = 8 }, sink: sink);
        await second.StartAsync(Ct);
        var stopwatch = Stopwatch.StartNew();
        int Restored() => second.EnumerateLiveStates().Count();
        while (Restored() < 40)
        {
            Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(30), $"{Restored()} of 40 vehicles restored after 30 s");
            await Task.Delay(20, Ct);
        }

        // Only the 40 that reported have a snapshot; each is back where it was, on the map and to the live sink.
        Assert.Equal(40, second.ActiveGrains);
        for (var v = 1; v <= 40; v++)
        {
            var live = second.Live(v);
            Assert.Equal(now - 1000, live.Ts);
            Assert.Equal(40 + (v * 0.001), live.Lat, 9);
        }

        Assert.False(second.TryGetLiveState(41, out _));
        Assert.Equal(40, sink.States.Select(s => s.VehicleId).Distinct().Count());
    }
}
