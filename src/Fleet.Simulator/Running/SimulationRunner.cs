using System.Diagnostics;
using System.Globalization;
using System.Text;
using Fleet.Mqtt.Client;
using Fleet.Mqtt.Protocol;
using Fleet.Simulator.Behaviour;
using Fleet.Simulator.Fleet;
using Fleet.Simulator.Reports;
using Fleet.Core.Roads;

namespace Fleet.Simulator.Running;

/// <summary>
/// Runs vehicles against a broker: connects each of the first <see cref="SimulationOptions.OwnConnections"/> with
/// its terminal's own credentials (and a retained <c>offline</c> will) and multiplexes the rest over a few load
/// connections; steps every vehicle once per interval in evenly spread slots; publishes at QoS 1 and counts every
/// acknowledgement; prints stats; on stop waits for the tail to be acknowledged, marks the terminals offline and
/// disconnects.
/// </summary>
public sealed class SimulationRunner
{
    private const int MaxConnectErrorsPrinted = 5;

    private readonly IReadOnlyList<VehicleProfile> _profiles;
    private readonly SimulationOptions _options;
    private readonly TextWriter _output;
    private readonly TimeProvider _time;
    private readonly PublishStats _stats = new();
    private readonly List<MqttClient> _clients = [];
    private int _connectErrorsPrinted;

    public SimulationRunner(IReadOnlyList<VehicleProfile> profiles, SimulationOptions options, TextWriter output, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(profiles);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(output);
        if (profiles.Count == 0)
        {
            throw new ArgumentException("No vehicles to simulate.", nameof(profiles));
        }

        if (profiles.Count > options.OwnConnections && string.IsNullOrEmpty(options.LoadUsername))
        {
            throw new ArgumentException(
                $"{profiles.Count} vehicles exceed --connections {options.OwnConnections}: the rest need load mode (--load --username … --password …).",
                nameof(options));
        }

        _profiles = profiles;
        _options = options;
        _output = output;
        _time = time ?? TimeProvider.System;
    }

    public PublishStats Stats => _stats;

    /// <summary>Builds one vehicle per profile, each on its region's network (generated once per region).</summary>
    public static IReadOnlyList<SimulatedVehicle> CreateVehicles(IReadOnlyList<VehicleProfile> profiles, BehaviourSettings behaviour, int seed)
    {
        ArgumentNullException.ThrowIfNull(profiles);
        var networks = new Dictionary<string, RoadNetwork>(StringComparer.Ordinal);
        var vehicles = new SimulatedVehicle[profiles.Count];
        for (var i = 0; i < profiles.Count; i++)
        {
            var region = profiles[i].Region;
            if (!networks.TryGetValue(region.Code, out var network))
            {
                network = RoadNetworkGenerator.Generate(region.Code, region.Centre, seed);
                networks.Add(region.Code, network);
            }

            vehicles[i] = new SimulatedVehicle(profiles[i], network, behaviour, behaviour.IsAffected(i), seed);
        }

        return vehicles;
    }

    public async Task<SimulationSummary> RunAsync(CancellationToken stop)
    {
        var vehicles = CreateVehicles(_profiles, _options.Behaviour, _options.Seed);
        var lanes = new Lane[vehicles.Count];
        using var abort = new CancellationTokenSource();
        var started = _time.GetTimestamp();
        var cpuAtStart = CpuTime();
        var scheduleElapsed = TimeSpan.Zero;
        var scheduleCpu = TimeSpan.Zero;
        try
        {
            try
            {
                await ConnectAsync(vehicles, lanes, stop);
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                // Stopped while connecting: the terminals that made it still go offline cleanly below.
            }

            var own = lanes.Take(_options.OwnConnections).Count(l => l.Client is not null);
            _output.WriteLine(string.Create(
                CultureInfo.InvariantCulture,
                $"[{_options.Label}] {vehicles.Count} vehicles over {_clients.Count} connections ({own} own, {_clients.Count - own} load); interval {_options.Interval.TotalSeconds:0.###} s; scenario {Scenarios.NameOf(_options.Behaviour.Scenario)}"));

            var outbox = new Outbox();
            using (var statsStop = CancellationTokenSource.CreateLinkedTokenSource(stop))
            {
                var reporter = ReportStatsPeriodicallyAsync(vehicles.Count, started, cpuAtStart, statsStop.Token);
                try
                {
                    var scheduleStarted = _time.GetTimestamp();
                    scheduleCpu = CpuTime();
                    await ScheduleAsync(lanes, outbox, stop, abort.Token);

                    // Never lose the tail: every report sent is waited for before the terminals go offline.
                    await DrainAsync(abort);
                    scheduleElapsed = _time.GetElapsedTime(scheduleStarted);
                    scheduleCpu = CpuTime() - scheduleCpu;
                }
                finally
                {
                    await statsStop.CancelAsync();
                    await reporter;
                }
            }

            foreach (var lane in lanes)
            {
                if (lane.Client is not null)
                {
                    outbox.Clear();
                    outbox.AddStatus(online: false);
                    await PublishAsync(lane, outbox, abort.Token);
                }
            }

            await DrainAsync(abort);
        }
        finally
        {
            await DisconnectAllAsync();
        }

        var elapsed = _time.GetElapsedTime(started);
        var summary = new SimulationSummary(
            vehicles.Count,
            _clients.Count,
            _stats.Sent,
            _stats.Acked,
            _stats.Errors,
            _stats.TelemetryMessages,
            _stats.Reports,
            _stats.ReportsAcked,
            _stats.Behind,
            elapsed,
            CpuTime() - cpuAtStart,
            scheduleElapsed,
            scheduleCpu);
        _output.WriteLine(string.Create(
            CultureInfo.InvariantCulture,
            $"[{_options.Label}] final: vehicles={summary.Vehicles} connections={summary.Connections} sent={summary.Sent} acked={summary.Acked} errors={summary.Errors} reports={summary.Reports} behind={summary.Behind} elapsed={elapsed.TotalSeconds:F1}s cpu={summary.CpuTime.TotalSeconds:F2}s"));
        if (_stats.FirstError is { } error)
        {
            _output.WriteLine($"[{_options.Label}] first error: {error}");
        }

        return summary;
    }

    private static TimeSpan CpuTime()
    {
        using var process = Process.GetCurrentProcess();
        return process.TotalProcessorTime;
    }

    private async Task ConnectAsync(IReadOnlyList<SimulatedVehicle> vehicles, Lane[] lanes, CancellationToken ct)
    {
        for (var i = 0; i < vehicles.Count; i++)
        {
            var id = vehicles[i].Profile.TerminalId;
            lanes[i] = new Lane(vehicles[i], Encoding.UTF8.GetBytes($"{_options.TopicPrefix}/{id}/telemetry"), Encoding.UTF8.GetBytes($"{_options.TopicPrefix}/{id}/status"));
        }

        var own = Math.Min(vehicles.Count, _options.OwnConnections);
        await Parallel.ForEachAsync(
            Enumerable.Range(0, own),
            new ParallelOptions { MaxDegreeOfParallelism = _options.ConnectParallelism, CancellationToken = ct },
            async (i, token) =>
            {
                var profile = vehicles[i].Profile;
                var client = new MqttClient(BaseOptions() with
                {
                    ClientId = profile.TerminalId,
                    Username = profile.TerminalId,
                    Password = profile.Password,
                    Will = new MqttWill($"fleet/v1/{profile.TerminalId}/status", "offline"u8.ToArray())
                    {
                        QoS = MqttQualityOfService.AtLeastOnce,
                        Retain = true,
                    },
                });
                try
                {
                    await client.ConnectAsync(token);
                }
                catch (Exception ex) when (ex is MqttConnectException or TimeoutException or IOException or System.Net.Sockets.SocketException)
                {
                    await client.DisposeAsync();
                    _stats.Failed($"connect {profile.TerminalId}: {ex.Message}");
                    if (Interlocked.Increment(ref _connectErrorsPrinted) <= MaxConnectErrorsPrinted)
                    {
                        _output.WriteLine($"[{_options.Label}] terminal {profile.TerminalId} could not connect: {ex.Message}");
                    }

                    return;
                }

                lanes[i].Client = client;
                lock (_clients)
                {
                    _clients.Add(client);
                }
            });

        if (own == vehicles.Count)
        {
            return;
        }

        var shared = Math.Max(1, Math.Min(_options.LoadConnections, vehicles.Count - own));
        var loadClients = new MqttClient[shared];
        for (var k = 0; k < shared; k++)
        {
            loadClients[k] = new MqttClient(BaseOptions() with
            {
                ClientId = string.Create(CultureInfo.InvariantCulture, $"fleet-simulator-{Environment.ProcessId}-{k}"),
                Username = _options.LoadUsername,
                Password = _options.LoadPassword,
            });
            _clients.Add(loadClients[k]);
            await loadClients[k].ConnectAsync(ct);
        }

        for (var i = own; i < vehicles.Count; i++)
        {
            lanes[i].Client = loadClients[(i - own) % shared];
        }
    }

    private MqttClientOptions BaseOptions() => new()
    {
        Host = _options.Host,
        Port = _options.Port,
        ProtocolVersion = MqttProtocolVersion.V500,
        KeepAlive = _options.KeepAlive,
        AutoReconnect = true,

        // Nothing is subscribed: keep the receive side small, as there may be thousands of these.
        ReceiveQueueBatches = 1,
        MaximumBatchMessages = 16,

        // An acknowledgement only updates counters (TrackAsync): a thread-pool hop for each, tens of thousands a
        // second, was a large share of the generator's CPU (perf), on the cores it shares with what it loads.
        InlinePublishCompletions = true,
    };

    /// <summary>
    /// Slot k of the run belongs to vehicle k mod N and is due at start + k × interval / N: each vehicle reports once
    /// per interval and the reports are spread evenly over it. Everything due is sent at once; a report that starts
    /// later than the tolerance counts as behind schedule.
    /// </summary>
    private async Task ScheduleAsync(Lane[] lanes, Outbox outbox, CancellationToken stop, CancellationToken abort)
    {
        var slotMs = _options.Interval.TotalMilliseconds / lanes.Length;
        var toleranceMs = (long)_options.BehindTolerance.TotalMilliseconds;
        var durationMs = _options.Duration is { } d ? d.TotalMilliseconds : double.PositiveInfinity;
        var start = _time.GetTimestamp();
        long slot = 0;
        while (!stop.IsCancellationRequested)
        {
            var elapsedMs = _time.GetElapsedTime(start).TotalMilliseconds;
            if (elapsedMs >= durationMs)
            {
                return;
            }

            var dueMs = slot * slotMs;
            if (dueMs > elapsedMs)
            {
                // At least a millisecond: a shorter delay completes at once and the loop would spin. The slots that
                // fall due meanwhile are sent together on waking.
                var wait = TimeSpan.FromMilliseconds(Math.Max(1, Math.Ceiling(Math.Min(dueMs, durationMs) - elapsedMs)));
                try
                {
                    await Task.Delay(wait, _time, stop);
                }
                catch (OperationCanceledException)
                {
                    return;
                }

                continue;
            }

            var lagMs = (long)(elapsedMs - dueMs);
            _stats.Late(lagMs, lagMs > toleranceMs);
            var lane = lanes[slot % lanes.Length];
            slot++;
            if (lane.Client is null)
            {
                continue;
            }

            outbox.Clear();

            // Retained online on the vehicle's first slot and again after every reconnect (the broker may have
            // published the will meanwhile), unless the terminal is meant to be silent.
            var generation = lane.Client.ConnectionGeneration;
            if (generation != lane.OnlineGeneration && !lane.Vehicle.IsOffline)
            {
                outbox.AddStatus(online: true);
                lane.OnlineGeneration = generation;
            }

            lane.Vehicle.Tick(_time.GetUtcNow().ToUnixTimeMilliseconds(), outbox);
            await PublishAsync(lane, outbox, abort);
        }
    }

    private async ValueTask PublishAsync(Lane lane, Outbox outbox, CancellationToken ct)
    {
        var client = lane.Client!;
        for (var m = 0; m < outbox.Count; m++)
        {
            var message = outbox[m];
            var telemetry = message.Kind == OutboxKind.Telemetry;
            ValueTask<MqttPublishResult> pending;
            try
            {
                pending = client.PublishAsync(
                    telemetry ? lane.TelemetryTopic : lane.StatusTopic,
                    outbox.Payload(message),
                    MqttQualityOfService.AtLeastOnce,
                    retain: !telemetry,
                    ct);
            }
            catch (Exception ex) when (ex is ArgumentException or MqttConnectionLostException or ObjectDisposedException)
            {
                _stats.Failed(ex.Message);
                continue;
            }

            _stats.Sending(message.Reports);
            var tracked = _stats.TrackAsync(pending, message.Reports);
            if (telemetry && _options.OnTelemetryOutcome is { } observe)
            {
                // The outbox buffer is reused on the next step: the observer gets its own copy.
                tracked = ObserveAsync(tracked, new TelemetryOutcome(lane.Vehicle.Profile.TerminalId, outbox.Payload(message).ToArray(), false), observe);
            }

            if (pending.IsCompleted)
            {
                await tracked;
            }
            else if (client.InflightCount < client.InflightLimit)
            {
                _ = tracked;
            }
            else
            {
                // The broker's window is full: wait for room in it, so the schedule (not memory) absorbs the
                // back-pressure. Not for this publish's own PUBACK: that comes last, after the whole window has
                // drained, and every connection would stand idle meanwhile, which held the flat-out ceiling run down.
                while (client.InflightCount >= client.InflightLimit && !tracked.IsCompleted)
                {
                    await Task.Delay(TimeSpan.FromMilliseconds(1), _time, CancellationToken.None);
                }
            }
        }
    }

    private static async Task<bool> ObserveAsync(Task<bool> tracked, TelemetryOutcome outcome, Action<TelemetryOutcome> observe)
    {
        var acked = await tracked.ConfigureAwait(false);
        observe(outcome with { Acked = acked });
        return acked;
    }

    private async Task DrainAsync(CancellationTokenSource abort)
    {
        var deadline = _time.GetTimestamp();
        while (_stats.Outstanding > 0)
        {
            if (_time.GetElapsedTime(deadline) > _options.DrainTimeout)
            {
                _output.WriteLine($"[{_options.Label}] {_stats.Outstanding} publishes still unacknowledged after {_options.DrainTimeout.TotalSeconds:0} s; giving up on them.");
                await abort.CancelAsync();
                return;
            }

            await Task.Delay(TimeSpan.FromMilliseconds(10), _time, CancellationToken.None);
        }
    }

    private async Task DisconnectAllAsync()
    {
        await Parallel.ForEachAsync(
            _clients,
            new ParallelOptions { MaxDegreeOfParallelism = _options.ConnectParallelism },
            async (client, _) =>
            {
                try
                {
                    using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5), _time);
                    await client.DisconnectAsync(timeout.Token);
                }
                catch (Exception ex) when (ex is OperationCanceledException or MqttConnectionLostException or ObjectDisposedException or IOException or InvalidOperationException)
                {
                    // Closing anyway (or it never connected).
                }

                await client.DisposeAsync();
            });
    }

    private async Task ReportStatsPeriodicallyAsync(int vehicles, long started, TimeSpan cpuAtStart, CancellationToken ct)
    {
        using var timer = new PeriodicTimer(_options.StatsEvery, _time);
        long lastReports = 0;
        var lastTime = started;
        try
        {
            while (await timer.WaitForNextTickAsync(ct))
            {
                var reports = _stats.Reports;
                var now = _time.GetTimestamp();
                var rate = (reports - lastReports) / _time.GetElapsedTime(lastTime, now).TotalSeconds;
                lastReports = reports;
                lastTime = now;
                _output.WriteLine(string.Create(
                    CultureInfo.InvariantCulture,
                    $"[{_options.Label}] t={_time.GetElapsedTime(started).TotalSeconds:F0}s vehicles={vehicles} connections={_clients.Count(c => c.IsConnected)} sent={_stats.Sent} acked={_stats.Acked} errors={_stats.Errors} behind={_stats.Behind} max-lag={_stats.TakeMaxLagMs()}ms rate={rate:F0}/s cpu={(CpuTime() - cpuAtStart).TotalSeconds:F1}s"));
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>A vehicle, the connection it publishes over, and its topics in UTF-8.</summary>
    private sealed class Lane(SimulatedVehicle vehicle, byte[] telemetryTopic, byte[] statusTopic)
    {
        public SimulatedVehicle Vehicle { get; } = vehicle;
        public byte[] TelemetryTopic { get; } = telemetryTopic;
        public byte[] StatusTopic { get; } = statusTopic;
        public MqttClient? Client { get; set; }

        /// <summary>The connection generation on which this terminal last said online.</summary>
        public long OnlineGeneration { get; set; }
    }
}
