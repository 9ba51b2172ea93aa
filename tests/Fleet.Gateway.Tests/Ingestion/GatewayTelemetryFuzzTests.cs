using System.Diagnostics;
using Fleet.Core.Telemetry;
using Fleet.Mqtt.Client;
using Fleet.Mqtt.Protocol;
using Fleet.Silo.Registry;
using Fleet.TestSupport;
using Fleet.TestSupport.Telemetry;
using static Fleet.Gateway.Tests.Ingestion.IngestionKit;

namespace Fleet.Gateway.Tests.Ingestion;

/// <summary>
/// The telemetry fuzz corpus through the real path: one terminal publishes it over Mosquitto to the gateway while
/// other vehicles keep reporting. Every fuzzed report ends up stored or as a reject row with its reason, nothing is
/// lost, the gateway stays up, and the valid vehicles' reports keep flowing at a rate close to a run without fuzz.
/// </summary>
public sealed class GatewayTelemetryFuzzTests(PostgresFixture postgres)
{
    private const int Seed = 5_2026;

    // The whole corpus: about 30-50 s on a quiet machine; see the printed figures.
    private const int FuzzPayloads = TelemetryFuzzCorpus.DefaultCount;

    private const int ValidVehicles = 20;
    private static readonly TimeSpan ValidInterval = TimeSpan.FromMilliseconds(100);
    private static readonly TimeSpan BaselineDuration = TimeSpan.FromSeconds(8);

    // Publishes awaiting their PUBACK from the fuzz terminal; enough to keep the broker busy without piling up memory.
    private const int FuzzWindow = 2_000;

    // Window-edge timestamps sit this far from the edges, so the gateway's later clock reaches the local verdict.
    private static readonly TimeSpan EdgeMargin = TimeSpan.FromMinutes(5);

    [Fact(Timeout = 600_000)]
    public async Task Every_fuzzed_payload_is_stored_or_recorded_as_a_reject_and_valid_vehicles_keep_their_rate()
    {
        await using var kit = await StartAsync(await postgres.CreateDatabaseAsync(cancellationToken: Token), 1 + ValidVehicles);
        var gateway = await kit.StartGatewayAsync();
        var fuzzTerminal = kit.Terminals[0];
        var validTerminals = kit.Terminals.Skip(1).ToArray();
        var validClients = await Task.WhenAll(validTerminals.Select(kit.ConnectTerminalAsync));
        var fuzzClient = await kit.ConnectTerminalAsync(fuzzTerminal);
        var validSender = new ValidSender(validTerminals, validClients);

        // Without fuzz: the valid vehicles alone, for the baseline rate.
        var baseline = await MeasureValidAsync(kit, validSender, until: () => Task.Delay(BaselineDuration, Token));
        Log($"without fuzz: {baseline}");

        // With fuzz: the same vehicles, for as long as the corpus takes to publish.
        var corpus = new TelemetryFuzzCorpus(Seed, NowMs, (long)EdgeMargin.TotalMilliseconds);
        var expected = new ExpectedOutcome();
        var fuzzStopwatch = new Stopwatch();
        var withFuzz = await MeasureValidAsync(kit, validSender, until: async () =>
        {
            fuzzStopwatch.Start();
            await PublishCorpusAsync(fuzzClient, TelemetryTopic(fuzzTerminal.TerminalId), corpus, expected);
            fuzzStopwatch.Stop();
        });
        Log($"with fuzz:    {withFuzz}");

        var messages = validSender.Sent + FuzzPayloads;
        await kit.EventuallyAsync(() => gateway.Health.MessagesAcknowledged == messages, TimeSpan.FromMinutes(3), $"all {messages} messages acknowledged", gateway);
        var health = gateway.Health;
        var fuzzStored = await kit.ScalarAsync<long>("SELECT count(*) FROM positions WHERE vehicle_id = $1", fuzzTerminal.VehicleId);
        var fuzzRejects = await kit.ScalarAsync<long>("SELECT count(*) FROM telemetry_rejects WHERE terminal_id = $1", fuzzTerminal.TerminalId);
        var reasons = await ReasonsAsync(kit, fuzzTerminal.TerminalId);
        Log($"fuzz: {FuzzPayloads} payloads ({expected.Bytes / 1024 / 1024} MiB) published in {fuzzStopwatch.ElapsedMilliseconds} ms " +
            $"({FuzzPayloads / fuzzStopwatch.Elapsed.TotalSeconds:F0} msg/s); {expected.Reports} reports in them by the local parse: {expected.Accepted} accepted " +
            $"({expected.DistinctKeys} distinct keys), {expected.Rejects} rejects");
        Log($"gateway: stored {fuzzStored} fuzz reports, {fuzzRejects} reject rows ({string.Join(", ", reasons.Select(r => $"{r.Key} {r.Value}"))}); " +
            $"accepted {health.ReportsAccepted}, duplicates {health.ReportsDuplicate}, rejected {health.ReportsRejected}, acknowledged {health.MessagesAcknowledged} messages, connected {health.Connected}, last error {health.LastError ?? "none"}");
        Log($"valid-report rate with fuzz / without: {withFuzz.Rate / baseline.Rate:P0}");

        // Nothing lost: every fuzzed report is stored (once per key) or is a reject row; the metrics agree with the table.
        Assert.False(reasons.ContainsKey(nameof(TelemetryRejectReason.StoreRefused)), "PostgreSQL refused a report the parser accepted");
        Assert.Equal(expected.Rejects, fuzzRejects);
        Assert.Equal(expected.DistinctKeys, fuzzStored);
        Assert.Equal(expected.Accepted, health.ReportsAccepted + health.ReportsDuplicate - validSender.Sent); // sent - rejected
        Assert.Equal(fuzzRejects, gateway.RejectsByTerminal()[fuzzTerminal.TerminalId]);
        Assert.Equal(fuzzRejects, health.ReportsRejected);

        // The valid vehicles lost nothing and the gateway is still up.
        Assert.Equal(validSender.Sent, await kit.ScalarAsync<long>("SELECT count(*) FROM positions WHERE vehicle_id <> $1", fuzzTerminal.VehicleId));
        Assert.True(health.Connected);
        Assert.Equal(0, health.InFlightMessages);

        // The gateway keeps its rate: valid reports flow at least half as fast as without fuzz (a generous bound for a
        // loaded machine; a gateway stalled by bad input falls far below it).
        Assert.True(withFuzz.Rate >= baseline.Rate * 0.5, $"valid reports: {withFuzz.Rate:F0}/s with fuzz, {baseline.Rate:F0}/s without");
    }

    /// <summary>Runs the valid vehicles while <paramref name="until"/> runs, then waits until all they sent is stored.</summary>
    private static async Task<ValidRun> MeasureValidAsync(IngestionKit kit, ValidSender sender, Func<Task> until)
    {
        var storedBefore = await ValidStoredAsync(kit, sender);
        var sentBefore = sender.Sent;
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(Token);
        var stopwatch = Stopwatch.StartNew();
        var sending = sender.RunAsync(stop.Token);
        await until();
        await stop.CancelAsync();
        await sending;
        var published = stopwatch.Elapsed;
        var sent = sender.Sent - sentBefore;
        await kit.EventuallyAsync(async () => await ValidStoredAsync(kit, sender) - storedBefore == sent, TimeSpan.FromMinutes(3), $"the {sent} valid reports stored");
        return new ValidRun(sent, published, stopwatch.Elapsed);
    }

    private static Task<long> ValidStoredAsync(IngestionKit kit, ValidSender sender) =>
        kit.ScalarAsync<long>("SELECT count(*) FROM positions WHERE vehicle_id = ANY($1)", sender.VehicleIds);

    /// <summary>Publishes the corpus at QoS 1 with a window of unacknowledged publishes, parsing each locally for the expected outcome.</summary>
    private static async Task PublishCorpusAsync(MqttClient client, string topic, TelemetryFuzzCorpus corpus, ExpectedOutcome expected)
    {
        var pending = new Queue<Task<MqttPublishResult>>();
        var fixes = new TelemetryFix[TelemetryLimits.Default.MaxReportsPerPayload];
        var rejects = new List<TelemetryReject>();
        foreach (var item in corpus.Generate(FuzzPayloads))
        {
            rejects.Clear();
            var count = TelemetryParser.Parse(item.Bytes, corpus.NowMs, fixes, rejects);
            expected.Add(item.Bytes.Length, fixes.AsSpan(0, count), rejects.Count);
            if (pending.Count == FuzzWindow)
            {
                AssertPublished(await pending.Dequeue(), item);
            }

            pending.Enqueue(client.PublishAsync(topic, item.Bytes, MqttQualityOfService.AtLeastOnce, cancellationToken: Token).AsTask());
        }

        while (pending.Count > 0)
        {
            AssertPublished(await pending.Dequeue(), null);
        }
    }

    private static void AssertPublished(MqttPublishResult result, TelemetryFuzzPayload? item) =>
        Assert.True(result.IsSuccess, $"the broker refused a fuzz publish near {item}: {result.ReasonName}");

    private static async Task<Dictionary<string, long>> ReasonsAsync(IngestionKit kit, string terminalId)
    {
        var reasons = new Dictionary<string, long>();
        await using var command = kit.Db.CreateCommand("SELECT reason, count(*) FROM telemetry_rejects WHERE terminal_id = $1 GROUP BY reason ORDER BY 2 DESC");
        command.Parameters.Add(new Npgsql.NpgsqlParameter { Value = terminalId });
        await using var reader = await command.ExecuteReaderAsync(Token);
        while (await reader.ReadAsync(Token))
        {
            reasons[reader.GetString(0)] = reader.GetInt64(1);
        }

        return reasons;
    }

    private sealed record ValidRun(long Sent, TimeSpan Published, TimeSpan Stored)
    {
        /// <summary>Valid reports per second, from the first publish until the last one was stored.</summary>
        public double Rate => Sent / Stored.TotalSeconds;

        public override string ToString() =>
            $"{Sent} valid reports published over {Published.TotalMilliseconds:F0} ms, all stored after {Stored.TotalMilliseconds:F0} ms: {Rate:F0} reports/s";
    }

    /// <summary>What the local parse says the gateway must make of the corpus.</summary>
    private sealed class ExpectedOutcome
    {
        private readonly HashSet<(long Ts, uint Seq)> _keys = [];

        public long Bytes { get; private set; }

        public long Reports { get; private set; }

        public long Accepted { get; private set; }

        public long Rejects { get; private set; }

        /// <summary>Accepted reports with distinct (ts, seq): what <c>positions</c> keeps; mutations can repeat a key.</summary>
        public long DistinctKeys => _keys.Count;

        public void Add(int bytes, ReadOnlySpan<TelemetryFix> fixes, int rejects)
        {
            Bytes += bytes;
            Accepted += fixes.Length;
            Rejects += rejects;
            Reports += fixes.Length + rejects;
            foreach (var fix in fixes)
            {
                _keys.Add((fix.Ts, fix.Seq));
            }
        }
    }

    /// <summary>Each valid vehicle reports every <see cref="ValidInterval"/>, with its own increasing seq.</summary>
    private sealed class ValidSender(IReadOnlyList<DemoTerminalCredential> terminals, IReadOnlyList<MqttClient> clients)
    {
        private readonly uint[] _seq = new uint[terminals.Count];
        private long _sent;

        public long[] VehicleIds { get; } = terminals.Select(t => t.VehicleId).ToArray();

        public long Sent => Interlocked.Read(ref _sent);

        public async Task RunAsync(CancellationToken stop)
        {
            var pending = new List<Task<MqttPublishResult>>();
            using var timer = new PeriodicTimer(ValidInterval);
            do
            {
                var now = NowMs;
                for (var t = 0; t < terminals.Count; t++)
                {
                    var seq = ++_seq[t];
                    var payload = Utf8(Report(now, seq, 40.8 + (t * 0.01), 111.7 + (seq * 1e-5), spd: 40));
                    pending.Add(clients[t].PublishAsync(TelemetryTopic(terminals[t].TerminalId), payload, MqttQualityOfService.AtLeastOnce, cancellationToken: Token).AsTask());
                    Interlocked.Increment(ref _sent);
                }
            }
            while (await WaitAsync(timer, stop));

            foreach (var result in await Task.WhenAll(pending))
            {
                Assert.True(result.IsSuccess, result.ReasonName);
            }
        }

        private static async Task<bool> WaitAsync(PeriodicTimer timer, CancellationToken stop)
        {
            try
            {
                return await timer.WaitForNextTickAsync(stop);
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                return false;
            }
        }
    }
}
