using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text;
using Fleet.Core.Telemetry;
using Fleet.Mqtt.Client;
using Fleet.Mqtt.Protocol;
using Fleet.Silo.Grains;
using Fleet.Silo.Shards;
using Fleet.TestSupport;
using static Fleet.Gateway.Tests.Ingestion.IngestionKit;

namespace Fleet.Gateway.Tests.Ingestion;

/// <summary>
/// A terminal back after a day offline uploads its whole day (86,400 points at 1 Hz) while the rest of the fleet keeps
/// reporting live: the upload is stored whole and applied in order, and it takes the backlog lane, so the other
/// vehicles' live updates keep flowing.
/// </summary>
public sealed class GatewayDayBacklogTests(PostgresFixture postgres)
{
    private const int DayPoints = 86_400;
    private const int PointsPerMessage = 800;
    private const int LiveVehicles = 200;

    // The latency target is 1 s; the bound allows for a 2-core box shared with builds. The figures are printed.
    private static readonly TimeSpan MaxLiveDelay = TimeSpan.FromSeconds(5);

    [Fact(Timeout = 240_000)]
    public async Task A_days_backlog_is_stored_once_and_in_order_while_other_vehicles_live_updates_keep_flowing()
    {
        var sink = new ArrivalSink();
        var silo = new SiloOptions { ShardCount = 8, FlushInterval = TimeSpan.FromMilliseconds(5), StoreRetryMaxDelay = TimeSpan.FromMilliseconds(250), BacklogRowsInFlight = 1000 };
        await using var kit = await StartAsync(await postgres.CreateDatabaseAsync(cancellationToken: Token), LiveVehicles + 1, silo, sink);
        var gateway = await kit.StartGatewayAsync();
        var backlogTerminal = kit.Terminals[0];
        var live = kit.Terminals.Skip(1).ToArray();
        sink.Watch(backlogTerminal.VehicleId);

        var uploader = await kit.ConnectTerminalAsync(backlogTerminal);
        var simulator = await kit.ConnectSimulatorAsync();
        using var stopLive = CancellationTokenSource.CreateLinkedTokenSource(Token);
        var sent = new ConcurrentBag<(long VehicleId, long Ts)>();
        var measureFrom = long.MaxValue;
        var liveTask = PublishLiveAsync(simulator, live, sent, () => Volatile.Read(ref measureFrom), stopLive.Token);

        // Warm-up: every live vehicle activated and reporting before the upload starts.
        await kit.EventuallyAsync(() => gateway.Health.ReportsCommitted >= 2 * LiveVehicles, TimeSpan.FromSeconds(30), "live reports flow", gateway);
        var dayStart = NowMs - (DayPoints * 1000L) - 60_000;
        var upload = Stopwatch.StartNew();
        Volatile.Write(ref measureFrom, NowMs);
        for (var m = 0; m < DayPoints / PointsPerMessage; m++)
        {
            var payload = new StringBuilder(PointsPerMessage * 64).Append('[');
            for (var i = 0; i < PointsPerMessage; i++)
            {
                var point = (m * PointsPerMessage) + i;
                payload.Append(i == 0 ? "" : ",").Append(Report(dayStart + (point * 1000L), (uint)(1_000_000 + point), 40.5 + (point * 0.000005), 111.5, spd: 30));
            }

            Assert.True(Encoding.UTF8.GetByteCount(payload.Append(']').ToString()) <= TelemetryLimits.Default.MaxPayloadBytes);
            await PublishAsync(uploader, TelemetryTopic(backlogTerminal.TerminalId), payload.ToString());
        }

        var published = upload.Elapsed;
        await kit.EventuallyAsync(
            async () => await kit.ScalarAsync<long>("SELECT count(*) FROM positions WHERE vehicle_id = $1", backlogTerminal.VehicleId) >= DayPoints,
            TimeSpan.FromSeconds(150),
            "the whole day is stored",
            gateway);
        var stored = upload.Elapsed;
        Volatile.Write(ref measureFrom, long.MaxValue);
        await Task.Delay(2000, Token); // the live reports sent during the upload arrive
        await stopLive.CancelAsync();
        await liveTask;

        // Stored exactly once: every (ts, seq) of the day, no more.
        Assert.Equal(DayPoints, await kit.ScalarAsync<long>("SELECT count(*) FROM positions WHERE vehicle_id = $1", backlogTerminal.VehicleId));
        Assert.Equal(DayPoints, await kit.ScalarAsync<long>("SELECT count(DISTINCT seq) FROM positions WHERE vehicle_id = $1 AND seq BETWEEN 1000000 AND 1086399", backlogTerminal.VehicleId));

        // Applied in order: at most BacklogRowsInFlight points per pass, each pass moving the vehicle's position on
        // through the day. Applied out of order, a pass would jump ahead and the older points after it would be late.
        var progress = sink.Watched();
        var advances = 0;
        for (var i = 1; i < progress.Count; i++)
        {
            Assert.True(progress[i] >= progress[i - 1], $"state {i} went back from ts {progress[i - 1]} to {progress[i]}");
            advances += progress[i] > progress[i - 1] ? 1 : 0;
        }

        Assert.True(advances >= (DayPoints / silo.BacklogRowsInFlight) - 1, $"the backlog vehicle's position advanced only {advances} times");

        Assert.Equal(dayStart + ((DayPoints - 1) * 1000L), kit.Live(backlogTerminal.VehicleId).Ts);

        // The other vehicles' live updates during the upload: from the report's ts to its vehicle's live state.
        var delays = new List<long>();
        var missing = 0;
        foreach (var (vehicleId, ts) in sent)
        {
            if (sink.FirstArrivalAtOrAfter(vehicleId, ts) is { } arrivedMs)
            {
                delays.Add(Math.Max(0, arrivedMs - ts));
            }
            else
            {
                missing++;
            }
        }

        delays.Sort();
        Assert.NotEmpty(delays);
        var p50 = delays[delays.Count / 2];
        var p99 = delays[Math.Min(delays.Count - 1, (int)(delays.Count * 0.99))];
        var max = delays[^1];
        Log($"day backlog: {DayPoints} points in {DayPoints / PointsPerMessage} messages published in {published.TotalSeconds:F1} s, "
            + $"all stored after {stored.TotalSeconds:F1} s ({DayPoints / stored.TotalSeconds:F0} points/s); the position advanced {advances} times");
        Log($"live during the upload: {LiveVehicles} vehicles, {delays.Count} reports, delay p50 {p50} ms, p99 {p99} ms, max {max} ms; {missing} not seen");
        Assert.Equal(0, missing);
        Assert.True(max <= MaxLiveDelay.TotalMilliseconds, $"a live update took {max} ms during the upload (p99 {p99} ms)");
        Assert.Equal(0, gateway.Health.ReportsRejected);

        // Every message was acknowledged to the broker, the backlog lane's included: a new session gets nothing again.
        await kit.EventuallyAsync(() => gateway.Health.InFlightMessages == 0, TimeSpan.FromSeconds(10), "everything acknowledged", gateway);
        await gateway.StopAsync(Token);
        var next = await kit.StartGatewayAsync();
        await Task.Delay(3000, Token);
        Assert.Equal(0, next.Health.MessagesReceived);
    }

    [Fact(Timeout = 120_000)]
    public async Task A_live_report_sent_while_the_vehicles_own_upload_drains_is_applied_after_that_upload()
    {
        const int Messages = 20;
        const int Points = 500;
        var sink = new ArrivalSink();
        var silo = new SiloOptions { ShardCount = 2, FlushInterval = TimeSpan.FromMilliseconds(5), StoreRetryMaxDelay = TimeSpan.FromMilliseconds(250), BacklogRowsInFlight = 100 };
        await using var kit = await StartAsync(await postgres.CreateDatabaseAsync(cancellationToken: Token), 1, silo, sink);
        var gateway = await kit.StartGatewayAsync();
        var terminal = kit.Terminals[0];
        sink.Watch(terminal.VehicleId);
        var uploader = await kit.ConnectTerminalAsync(terminal);

        // After reconnecting: the stored hours go up (paced at 100 rows per COPY) and the terminal reports live at once.
        var start = NowMs - (Messages * Points * 1000L) - 60_000;
        for (var m = 0; m < Messages; m++)
        {
            var payload = new StringBuilder(Points * 64).Append('[');
            for (var i = 0; i < Points; i++)
            {
                var point = (m * Points) + i;
                payload.Append(i == 0 ? "" : ",").Append(Report(start + (point * 1000L), (uint)(1_000_000 + point), 40.5 + (point * 0.000005), 111.5, spd: 30));
            }

            await PublishAsync(uploader, TelemetryTopic(terminal.TerminalId), payload.Append(']').ToString());
        }

        var liveTs = NowMs;
        await PublishAsync(uploader, TelemetryTopic(terminal.TerminalId), Report(liveTs, 1, spd: 0));
        await kit.EventuallyAsync(
            async () => await kit.ScalarAsync<long>("SELECT count(*) FROM positions WHERE vehicle_id = $1", terminal.VehicleId) >= (Messages * Points) + 1,
            TimeSpan.FromSeconds(60),
            "the upload and the live report are stored",
            gateway);

        // The upload moved the vehicle on in order and the live fix came last. Applied first, the live fix would have
        // made the rest of the upload late: the position would never show its last point.
        var progress = sink.Watched();
        for (var i = 1; i < progress.Count; i++)
        {
            Assert.True(progress[i] >= progress[i - 1], $"state {i} went back from ts {progress[i - 1]} to {progress[i]}");
        }

        Assert.Contains(start + (((Messages * Points) - 1) * 1000L), progress);
        Assert.Equal(liveTs, progress[^1]);
        Assert.Equal(liveTs, kit.Live(terminal.VehicleId).Ts);
    }

    /// <summary>Every live vehicle reports once a second (as the load-mode user), until cancelled.</summary>
    private static async Task PublishLiveAsync(MqttClient client, Fleet.Silo.Registry.DemoTerminalCredential[] vehicles, ConcurrentBag<(long, long)> sent, Func<long> measureFrom, CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1));
        var seq = 0u;
        var pending = new List<Task<MqttPublishResult>>(vehicles.Length);
        try
        {
            do
            {
                seq++;
                pending.Clear();
                foreach (var vehicle in vehicles)
                {
                    var ts = NowMs;
                    if (ts >= measureFrom())
                    {
                        sent.Add((vehicle.VehicleId, ts));
                    }

                    pending.Add(client.PublishAsync(TelemetryTopic(vehicle.TerminalId), Utf8(Report(ts, seq, spd: 20)), MqttQualityOfService.AtLeastOnce, false, cancellationToken).AsTask());
                }

                foreach (var result in await Task.WhenAll(pending))
                {
                    Assert.True(result.IsSuccess, result.ReasonName);
                }
            }
            while (await timer.WaitForNextTickAsync(cancellationToken));
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }

    /// <summary>Records when each vehicle's live state reached which ts (wall-clock ms), from the shard loops.</summary>
    private sealed class ArrivalSink : ILiveStateSink
    {
        private readonly ConcurrentDictionary<long, List<(long Ts, long AtMs)>> _arrivals = new();
        private readonly List<long> _watched = [];
        private long _watchedId = -1;

        public void Watch(long vehicleId) => _watchedId = vehicleId;

        public void OnChanged(ReadOnlySpan<VehicleLiveState> states)
        {
            var now = NowMs;
            foreach (var state in states)
            {
                if (state.VehicleId == Volatile.Read(ref _watchedId))
                {
                    lock (_watched)
                    {
                        _watched.Add(state.Ts);
                    }

                    continue;
                }

                var list = _arrivals.GetOrAdd(state.VehicleId, static _ => []);
                lock (list)
                {
                    list.Add((state.Ts, now));
                }
            }
        }

        public List<long> Watched()
        {
            lock (_watched)
            {
                return [.. _watched];
            }
        }

        public long? FirstArrivalAtOrAfter(long vehicleId, long ts)
        {
            if (!_arrivals.TryGetValue(vehicleId, out var list))
            {
                return null;
            }

            lock (list)
            {
                foreach (var (seenTs, atMs) in list)
                {
                    if (seenTs >= ts)
                    {
                        return atMs;
                    }
                }
            }

            return null;
        }
    }
}
