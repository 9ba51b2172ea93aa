using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using Fleet.Core.Roads;
using Fleet.Simulator.Behaviour;
using Fleet.Simulator.Fleet;
using Fleet.Simulator.Running;
using Npgsql;

namespace Fleet.Simulator.Suite;

/// <summary>
/// Runs the benchmark scenarios of issue 4 against a running platform (host, Mosquitto, PostgreSQL): the broker
/// baseline, steady-23k, fleet-100k and the ramp. Each pipeline scenario is one simulator run in load mode (warm-up,
/// then a measured window); the suite counts what reached <c>positions</c>, reads the latency off a subscribed hub
/// client and the CPU of each process tree off <c>/proc</c>.
/// </summary>
public sealed class BenchSuite : IAsyncDisposable
{
    private static readonly TimeSpan FrameGrace = TimeSpan.FromSeconds(3);

    /// <summary>The ramp looks no lower than this for a rate it can start from.</summary>
    private const double MinimumRampRate = 500;

    private readonly SuiteOptions _options;
    private readonly TextWriter _output;
    private readonly NpgsqlDataSource _db;
    private readonly PlatformMetrics _metrics;
    private IReadOnlyList<VehicleProfile> _profiles = [];
    private HubFeed? _hub;

    public BenchSuite(SuiteOptions options, TextWriter output)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(output);
        _options = options;
        _output = output;
        _db = NpgsqlDataSource.Create(options.Database);
        _metrics = new PlatformMetrics(options.HubBaseAddress);
    }

    public async Task<SuiteResult> RunAsync(CancellationToken ct)
    {
        var started = DateTimeOffset.UtcNow;
        var clock = Stopwatch.StartNew();
        var terminals = await FleetLoader.ReadCredentialsAsync(_options.CredentialsPath, ct);
        var needed = Math.Max(
            _options.Scenarios.Contains(SuiteOptions.FleetName) ? _options.FleetVehicles : 0,
            _options.SteadyVehicles);
        if (terminals.Count < needed)
        {
            Log($"{_options.CredentialsPath} holds {terminals.Count} terminals; scenarios are scaled down to that.");
        }

        terminals = terminals.Take(needed).ToList();
        (_profiles, _) = await FleetLoader.BuildProfilesAsync(terminals, _options.Database, RoadNetworkGenerator.DefaultSeed, ct);
        Log($"{_profiles.Count} vehicles loaded; scenarios: {string.Join(", ", _options.Scenarios)}");

        BaselineResult? baseline = null;
        var scenarios = new List<ScenarioResult>();
        RampResult? ramp = null;
        if (_options.Scenarios.Contains(SuiteOptions.BaselineName))
        {
            baseline = await RunBaselineAsync(ct);
        }

        var pipeline = _options.Scenarios.Any(s => s != SuiteOptions.BaselineName);
        if (pipeline)
        {
            _hub = await HubFeed.ConnectAsync(_options.HubBaseAddress, _options.HubUsername, HubPassword(), ct);
            Log($"hub client subscribed to all: snapshot of {_hub.SnapshotRows} vehicles");
        }

        if (_options.Scenarios.Contains(SuiteOptions.SteadyName))
        {
            var vehicles = Take(_options.SteadyVehicles);
            scenarios.Add(await RunScenarioAsync(SuiteOptions.SteadyName, vehicles, _options.SteadyInterval, _options.Warmup, _options.SteadyDuration, baseline: false, ct));
        }

        if (_options.Scenarios.Contains(SuiteOptions.FleetName))
        {
            var vehicles = Take(_options.FleetVehicles);
            // At least one full interval of warm-up, so every vehicle has reported (and its grain is resident) before measuring.
            var warmup = _options.Warmup > _options.FleetInterval ? _options.Warmup : _options.FleetInterval + TimeSpan.FromSeconds(2);
            scenarios.Add(await RunScenarioAsync(SuiteOptions.FleetName, vehicles, _options.FleetInterval, warmup, _options.FleetDuration, baseline: false, ct));
        }

        if (_options.Scenarios.Contains(SuiteOptions.RampName))
        {
            ramp = await RunRampAsync(ct);
        }

        var result = new SuiteResult
        {
            StartedAt = started,
            ElapsedSeconds = clock.Elapsed.TotalSeconds,
            Machine = Machine(),
            Note = _options.Note,
            Baseline = baseline,
            Scenarios = scenarios,
            Ramp = ramp,
        };
        return result with { Targets = SuiteTargets.Check(result, _options) };
    }

    public async ValueTask DisposeAsync()
    {
        if (_hub is not null)
        {
            await _hub.DisposeAsync();
        }

        await _db.DisposeAsync();
        _metrics.Dispose();
    }

    private List<VehicleProfile> Take(int count) => _profiles.Take(Math.Min(count, _profiles.Count)).ToList();

    private string HubPassword()
    {
        if (_options.HubPassword is { } password)
        {
            return password;
        }

        using var document = System.Text.Json.JsonDocument.Parse(File.ReadAllText(_options.CredentialsPath));
        foreach (var user in document.RootElement.GetProperty("users").EnumerateArray())
        {
            if (user.GetProperty("username").GetString() == _options.HubUsername)
            {
                return user.GetProperty("password").GetString() ?? "";
            }
        }

        throw new InvalidOperationException($"no password for hub user {_options.HubUsername} in {_options.CredentialsPath}");
    }

    private async Task<BaselineResult> RunBaselineAsync(CancellationToken ct)
    {
        await using var subscriber = await BaselineSubscriber.StartAsync(_options.Host, _options.Port, _options.BenchUsername, _options.BenchPassword, _options.BaselinePrefix, ct);
        var vehicles = Take(_options.SteadyVehicles);
        var warmup = TimeSpan.FromTicks(Math.Min(_options.Warmup.Ticks, _options.BaselineDuration.Ticks / 3));
        var paced = await RunScenarioAsync(SuiteOptions.BaselineName, vehicles, _options.SteadyInterval, warmup, _options.BaselineDuration, baseline: true, ct, subscriber);

        // The ceiling: the same vehicles and connections with slots far closer than the broker can serve, so the
        // PUBACK window alone paces the publisher. What the subscriber receives per second is the broker's ceiling.
        Log($"broker ceiling: {vehicles.Count} vehicles flat out for {_options.CeilingDuration.TotalSeconds:0} s");
        var flatOut = TimeSpan.FromTicks(Math.Max(1, TimeSpan.FromSeconds(vehicles.Count / 2_000_000.0).Ticks));
        var ceilingWarmup = TimeSpan.FromSeconds(Math.Min(3, _options.CeilingDuration.TotalSeconds / 4));
        var ceiling = await RunScenarioAsync(SuiteOptions.BaselineName + "-ceiling", vehicles, flatOut, ceilingWarmup, _options.CeilingDuration, baseline: true, ct, subscriber);
        Log($"broker ceiling: {ceiling.AchievedRate:F0} messages/s delivered to the subscriber; Mosquitto {Format(ceiling.CpuCores.Mosquitto)} cores, publisher+subscriber {ceiling.GeneratorCores:F2} cores");
        return new BaselineResult(paced, ceiling.AchievedRate, ceiling.GeneratorCores, ceiling.CpuCores.Mosquitto);
    }

    private async Task<RampResult> RunRampAsync(CancellationToken ct)
    {
        var vehicles = Take(_options.SteadyVehicles);
        var steps = new List<ScenarioResult>();
        var rate = _options.RampStartRate;
        double sustained = 0;
        var reason = $"reached the step limit ({_options.RampMaxSteps})";
        double sustainedTarget = 0, failedTarget = 0;
        var step = 1;
        for (; step <= _options.RampMaxSteps; step++)
        {
            var result = await RunRampStepAsync(vehicles, step, rate, ct);
            steps.Add(result);
            var failure = RampFailure(result, rate);
            if (failure is not null && sustained == 0 && rate / 2 >= MinimumRampRate)
            {
                // Nothing sustained yet: the start was already too high for this machine; look below it instead.
                Log($"ramp: {rate:F0}/s not sustained ({failure}); trying {rate / 2:F0}/s");
                rate /= 2;
                continue;
            }

            if (failure is not null)
            {
                reason = $"step {step} ({rate:F0}/s): {failure}";
                failedTarget = rate;
                step++;
                break;
            }

            sustained = result.AchievedRate;
            sustainedTarget = rate;
            rate *= _options.RampFactor;
        }

        // A step of ×1.25 leaves the answer up to a fifth short: narrow it down between the last rate held and the
        // first one missed, halving the gap (on a log scale) each time.
        for (var refine = 0; refine < _options.RampRefineSteps && sustainedTarget > 0 && failedTarget > 0; refine++, step++)
        {
            rate = Math.Sqrt(sustainedTarget * failedTarget);
            Log($"ramp: refining between {sustainedTarget:F0}/s (held) and {failedTarget:F0}/s (missed)");
            var result = await RunRampStepAsync(vehicles, step, rate, ct);
            steps.Add(result);
            if (RampFailure(result, rate) is { } failure)
            {
                Log($"ramp: {rate:F0}/s not sustained ({failure})");
                failedTarget = rate;
            }
            else
            {
                sustained = Math.Max(sustained, result.AchievedRate);
                sustainedTarget = rate;
            }
        }

        Log($"ramp: highest sustained rate {sustained:F0} reports/s; stopped: {reason}");
        return new RampResult(steps, sustained, reason);
    }

    private Task<ScenarioResult> RunRampStepAsync(List<VehicleProfile> vehicles, int step, double rate, CancellationToken ct)
    {
        var interval = TimeSpan.FromSeconds(vehicles.Count / rate);
        // Long enough for every vehicle's first slot (its online status and first fix) to pass before measuring.
        var warmup = TimeSpan.FromTicks(Math.Max(_options.RampStepDuration.Ticks / 5, Math.Min(interval.Ticks, TimeSpan.FromSeconds(6).Ticks)));
        var name = string.Create(CultureInfo.InvariantCulture, $"ramp-{step}@{rate:F0}/s");
        return RunScenarioAsync(name, vehicles, interval, warmup, _options.RampStepDuration, baseline: false, ct);
    }

    private string? RampFailure(ScenarioResult step, double target)
    {
        if (step.Lost)
        {
            return $"lost {step.Sent - step.Persisted} of {step.Sent} reports";
        }

        if (step.Errors > 0)
        {
            return $"{step.Errors} publish errors";
        }

        if (step.Latency.P99 > _options.LatencyLimit.TotalMilliseconds)
        {
            return $"p99 {step.Latency.P99} ms > {_options.LatencyLimit.TotalMilliseconds:0} ms";
        }

        if (step.Latency.Samples == 0)
        {
            return "no report reached the hub client";
        }

        if (step.AchievedRate < 0.95 * target)
        {
            return $"only {step.AchievedRate:F0} reports/s acknowledged (target {target:F0})";
        }

        return step.GeneratorBehind > step.Sent / 100 ? $"the load generator fell behind ({step.GeneratorBehind} reports late)" : null;
    }

    private async Task<ScenarioResult> RunScenarioAsync(
        string name,
        List<VehicleProfile> vehicles,
        TimeSpan interval,
        TimeSpan warmup,
        TimeSpan measure,
        bool baseline,
        CancellationToken ct,
        BaselineSubscriber? subscriber = null)
    {
        var targetRate = vehicles.Count / interval.TotalSeconds;

        // The previous run ended with every terminal going offline, which the platform is still taking in: start on a
        // quiet platform, so one scenario's tail does not land in the next one's latency.
        await Task.Delay(_options.Settle, ct);
        Log($"{name}: {vehicles.Count} vehicles, {targetRate:F0} reports/s target, warm-up {warmup.TotalSeconds:0} s, measured {measure.TotalSeconds:0} s");
        var simulation = new SimulationOptions
        {
            Host = _options.Host,
            Port = _options.Port,
            Interval = interval,
            OwnConnections = 0,
            LoadUsername = baseline ? _options.BenchUsername : _options.LoadUsername,
            LoadPassword = baseline ? _options.BenchPassword : _options.LoadPassword,
            LoadConnections = _options.LoadConnections,
            Duration = warmup + measure,
            StatsEvery = TimeSpan.FromSeconds(15),
            DrainTimeout = TimeSpan.FromSeconds(60),
            Behaviour = new BehaviourSettings(Continuous: true),
            TopicPrefix = baseline ? _options.BaselinePrefix : "fleet/v1",
            Label = name,
        };
        var runner = new SimulationRunner(vehicles, simulation, _output);
        var runFromMs = NowMs() - 1000;
        var receivedBefore = subscriber?.Received ?? 0;
        var metricsBefore = baseline ? default : await _metrics.ReadAsync(ct);
        var run = Task.Run(() => runner.RunAsync(ct), ct);

        // Vehicles are built and connections opened before the first slot: the clock starts with the first publish.
        while (runner.Stats.Sent == 0 && !run.IsCompleted)
        {
            await Task.Delay(20, ct);
        }

        await Task.WhenAny(run, Task.Delay(warmup, ct));
        var from = Sample(runner, subscriber);
        var measureFromMs = NowMs();
        var measureToMs = measureFromMs + (long)measure.TotalMilliseconds;
        var latency = new LatencyHistogram();
        var hubMeasurement = !baseline ? _hub?.Begin(measureFromMs, measureToMs) : null;
        subscriber?.Measure(latency, measureFromMs, measureToMs);

        double? peakRss = null;
        var measureEnd = Stopwatch.StartNew();
        while (measureEnd.Elapsed < measure && !run.IsCompleted)
        {
            if (_options.FleetPid is { } fleetPid && ProcessTree.RssBytes(fleetPid) is { } rss)
            {
                peakRss = Math.Max(peakRss ?? 0, rss / 1024.0 / 1024.0);
            }

            await Task.WhenAny(run, Task.Delay(TimeSpan.FromMilliseconds(500), ct));
        }

        var to = Sample(runner, subscriber);
        var hubCounters = hubMeasurement?.Counters() ?? (0, 0);
        var summary = await run;

        // Frames for the last reports of the window are still on their way: give them a moment before closing it.
        await Task.Delay(FrameGrace, ct);
        if (hubMeasurement is not null)
        {
            _hub!.End(hubMeasurement);
            latency = hubMeasurement.Latency;
        }

        subscriber?.StopMeasuring();
        var runToMs = NowMs() + 1000;
        var seconds = (to.At - from.At) / 1000.0;
        var reportsInWindow = to.Reports - from.Reports;

        var notes = new List<string>();
        long persisted, rejected = 0, duplicated = 0;
        double rowsPerSecond;
        if (baseline)
        {
            persisted = subscriber!.Received - receivedBefore;
            rowsPerSecond = 0;
        }
        else
        {
            // The broker acknowledged every publish on receipt; the pipeline may still be working through its queue.
            // Count once the gateway has received everything sent, or has received nothing more for a while.
            await WaitForGatewayAsync(name, metricsBefore.Received, summary.Reports, ct);
            Log($"{name}: counting positions and rejects");
            (persisted, var rowsInWindow) = await CountPositionsAsync(runFromMs, runToMs, measureFromMs, measureToMs, summary.Reports, ct);
            var metricsAfter = await _metrics.ReadAsync(ct);
            duplicated = metricsAfter.Duplicates - metricsBefore.Duplicates ?? 0;
            if (persisted < summary.Reports && metricsAfter.Received - metricsBefore.Received is { } received)
            {
                // Where the loss happened: the broker acknowledges the publisher on receipt, so a report the gateway
                // never received was dropped by the broker (its queue for the gateway, max_queued_messages, overflowed).
                notes.Add(string.Create(
                    CultureInfo.InvariantCulture,
                    $"lost {summary.Reports - persisted} reports: the gateway received {received} of {summary.Reports} sent{(received < summary.Reports ? " — the broker dropped the rest (its queue for the gateway overflowed: the pipeline was slower than the offered rate; see Mosquitto's log)" : ", so they were lost inside Fleet")}"));
            }
            rejected = await CountRejectsAsync(runFromMs, runToMs, ct);
            rowsPerSecond = rowsInWindow / seconds;
        }

        var achieved = baseline && subscriber is not null ? (to.Received - from.Received) / seconds : reportsInWindow / seconds;
        var generatorCores = (to.Self - from.Self) / seconds;
        if (summary.Behind > 0)
        {
            // The runner waits when its in-flight window is full: a generator far from a core's worth of CPU was held
            // back by the broker's acknowledgements, not by its own speed.
            notes.Add(string.Create(
                CultureInfo.InvariantCulture,
                $"load generator behind schedule for {summary.Behind} of {summary.Reports} reports at {generatorCores:F2} cores: {(generatorCores < 0.6 ? "back-pressure (the broker's PUBACKs were slower than the schedule), not the generator's CPU" : "the generator may be CPU-bound")}"));
        }

        var result = new ScenarioResult
        {
            Name = name,
            Vehicles = vehicles.Count,
            TargetRate = targetRate,
            WarmupSeconds = warmup.TotalSeconds,
            MeasuredSeconds = seconds,
            Sent = summary.Reports,
            Acked = summary.ReportsAcked,
            Errors = summary.Errors,
            Persisted = persisted,
            Rejected = rejected,
            Duplicated = duplicated,
            AchievedRate = achieved,
            Latency = latency.Figures(),
            Cpu = PerThousand(from, to, reportsInWindow),
            CpuCores = Cores(from, to, seconds),
            FleetPeakRssMiB = peakRss,
            DbRowsPerSecond = rowsPerSecond,
            HubFramesPerSecond = hubCounters.Frames / seconds,
            HubBytesPerSecond = hubCounters.Bytes / seconds,
            GeneratorBehind = summary.Behind,
            GeneratorCores = generatorCores,
            MachineCores = Delta(from.Machine, to.Machine) / seconds,
            Notes = notes,
        };
        Log(string.Create(
            CultureInfo.InvariantCulture,
            $"{name}: sent {result.Sent}, persisted {result.Persisted}, rejected {result.Rejected}, duplicated {result.Duplicated}, {result.AchievedRate:F0}/s, p50/p99 {result.Latency.P50}/{result.Latency.P99} ms ({result.Latency.Samples} samples); cores fleet {Format(result.CpuCores.Fleet)} mosquitto {Format(result.CpuCores.Mosquitto)} postgres {Format(result.CpuCores.Postgres)} generator {result.GeneratorCores:F2}"));
        return result;
    }

    private async Task<(long Persisted, long RowsInWindow)> CountPositionsAsync(long fromMs, long toMs, long measureFromMs, long measureToMs, long expected, CancellationToken ct)
    {
        // Acknowledged means committed, so one count should do; one more try, a little later, covers a report whose
        // acknowledgement was lost. The primary key (vehicle_id, ts, seq) makes every row unique: no DISTINCT needed.
        (long, long) counts = default;
        for (var attempt = 0; attempt < 2; attempt++)
        {
            await using var command = _db.CreateCommand(
                """
                SELECT count(*), count(*) FILTER (WHERE received_at >= $3 AND received_at < $4)
                FROM positions WHERE ts >= $1 AND ts < $2
                """);
            command.CommandTimeout = 600;
            command.Parameters.Add(new NpgsqlParameter { Value = DateTimeOffset.FromUnixTimeMilliseconds(fromMs).UtcDateTime });
            command.Parameters.Add(new NpgsqlParameter { Value = DateTimeOffset.FromUnixTimeMilliseconds(toMs).UtcDateTime });
            command.Parameters.Add(new NpgsqlParameter { Value = DateTimeOffset.FromUnixTimeMilliseconds(measureFromMs).UtcDateTime });
            command.Parameters.Add(new NpgsqlParameter { Value = DateTimeOffset.FromUnixTimeMilliseconds(measureToMs).UtcDateTime });
            await using var reader = await command.ExecuteReaderAsync(ct);
            await reader.ReadAsync(ct);
            counts = (reader.GetInt64(0), reader.GetInt64(1));
            if (counts.Item1 >= expected)
            {
                break;
            }

            await Task.Delay(TimeSpan.FromSeconds(5), ct);
        }

        return counts;
    }

    private async Task WaitForGatewayAsync(string name, long? receivedBefore, long sent, CancellationToken ct)
    {
        if (receivedBefore is null)
        {
            return;
        }

        var quietSince = Stopwatch.StartNew();
        var waited = Stopwatch.StartNew();
        long last = -1;
        while (waited.Elapsed < _options.DrainLimit)
        {
            var received = (await _metrics.ReadAsync(ct)).Received - receivedBefore;
            if (received is null || received >= sent)
            {
                return;
            }

            if (received != last)
            {
                if (last >= 0 && waited.Elapsed.TotalSeconds >= 10 && (long)waited.Elapsed.TotalSeconds % 10 == 0)
                {
                    Log($"{name}: the gateway has received {received} of {sent}; waiting for the pipeline to drain");
                }

                last = received.Value;
                quietSince.Restart();
            }
            else if (quietSince.Elapsed > TimeSpan.FromSeconds(15))
            {
                // Nothing more is coming: the rest was dropped on the way (the broker's queue overflowed).
                return;
            }

            await Task.Delay(TimeSpan.FromSeconds(1), ct);
        }
    }

    private async Task<long> CountRejectsAsync(long fromMs, long toMs, CancellationToken ct)
    {
        await using var command = _db.CreateCommand("SELECT count(*) FROM telemetry_rejects WHERE received_at >= $1 AND received_at < $2");
        command.Parameters.Add(new NpgsqlParameter { Value = DateTimeOffset.FromUnixTimeMilliseconds(fromMs).UtcDateTime });
        command.Parameters.Add(new NpgsqlParameter { Value = DateTimeOffset.FromUnixTimeMilliseconds(toMs).UtcDateTime });
        return (long)(await command.ExecuteScalarAsync(ct))!;
    }

    private Snapshot Sample(SimulationRunner runner, BaselineSubscriber? subscriber)
    {
        using var self = Process.GetCurrentProcess();
        return new Snapshot(
            NowMs(),
            runner.Stats.Reports,
            subscriber?.Received ?? 0,
            Cpu(_options.FleetPid),
            Cpu(_options.MosquittoPid),
            Cpu(_options.PostgresPid),
            self.TotalProcessorTime.TotalSeconds,
            ProcessTree.MachineBusySeconds());
    }

    private static double? Cpu(int? pid) => pid is { } p ? ProcessTree.CpuSeconds(p) : null;

    private static CpuPerThousand PerThousand(Snapshot from, Snapshot to, long reports)
    {
        if (reports <= 0)
        {
            return new CpuPerThousand(null, null, null, null);
        }

        var thousands = reports / 1000.0;
        return new CpuPerThousand(
            Delta(from.Fleet, to.Fleet) / thousands,
            Delta(from.Mosquitto, to.Mosquitto) / thousands,
            Delta(from.Postgres, to.Postgres) / thousands,
            (to.Self - from.Self) / thousands);
    }

    private static CpuPerThousand Cores(Snapshot from, Snapshot to, double seconds) => new(
        Delta(from.Fleet, to.Fleet) / seconds,
        Delta(from.Mosquitto, to.Mosquitto) / seconds,
        Delta(from.Postgres, to.Postgres) / seconds,
        (to.Self - from.Self) / seconds);

    private static double? Delta(double? from, double? to) => from is { } f && to is { } t ? t - f : null;

    private static long NowMs() => DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();

    private static string Format(double? value) => value is { } v ? v.ToString("F2", CultureInfo.InvariantCulture) : "-";

    private void Log(string message) => _output.WriteLine($"[suite] {message}");

    /// <summary>The machine in one line: cores, CPU model, memory, OS.</summary>
    public static string Machine()
    {
        var model = "unknown CPU";
        double memoryGiB = 0;
        try
        {
            model = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim() ?? model;
            var total = File.ReadLines("/proc/meminfo").FirstOrDefault(l => l.StartsWith("MemTotal:", StringComparison.Ordinal));
            if (total is not null)
            {
                memoryGiB = long.Parse(total["MemTotal:".Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture) / 1024.0 / 1024.0;
            }
        }
        catch (IOException)
        {
            // Not Linux: the model stays unknown.
        }

        return string.Create(CultureInfo.InvariantCulture, $"{Environment.ProcessorCount} cores, {model}, {memoryGiB:F1} GiB RAM, {RuntimeInformation.OSDescription}");
    }

    private sealed record Snapshot(long At, long Reports, long Received, double? Fleet, double? Mosquitto, double? Postgres, double Self, double? Machine);
}
