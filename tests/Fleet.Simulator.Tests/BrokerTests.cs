using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Fleet.Mqtt.Client;
using Fleet.Mqtt.Protocol;
using Fleet.Simulator.Cli;
using Fleet.Simulator.Fleet;
using Fleet.TestSupport;

namespace Fleet.Simulator.Tests;

/// <summary>The simulator against a real Mosquitto with the production ACL: terminals confined to their own topics.</summary>
public sealed partial class BrokerTests(ITestOutputHelper output)
{
    private const string SimulatorUser = "fleet-simulator";

    // As the gateway's BrokerConfigWriter renders it.
    private static readonly string[] ProductionAcl =
    [
        "pattern write fleet/v1/%u/telemetry",
        "pattern write fleet/v1/%u/status",
        "pattern read fleet/v1/%u/command",
        $"user {SimulatorUser}",
        "topic write fleet/v1/+/telemetry",
        "topic write fleet/v1/+/status",
        "topic read fleet/v1/+/command",
    ];

    [Fact(Timeout = 60_000)]
    public async Task Own_credential_and_load_mode_vehicles_deliver_every_report_on_their_own_topics()
    {
        var ct = TestContext.Current.CancellationToken;
        var terminals = TestFleet.Terminals(220, "T0147");
        var simulatorPassword = Convert.ToHexString(Guid.NewGuid().ToByteArray());
        await using var broker = await MosquittoServer.StartAsync(new MosquittoServerOptions { AclLines = ProductionAcl }, ct);
        foreach (var terminal in terminals.Take(20))
        {
            await broker.AddUserAsync(terminal.TerminalId, terminal.Password, reload: false, ct);
        }

        await broker.AddUserAsync(SimulatorUser, simulatorPassword, reload: true, ct);
        var credentials = await WriteCredentialsAsync(terminals, ct);

        await using var subscriber = await SubscribeAsync(broker, ct);
        var seqs = new ConcurrentDictionary<string, List<uint>>();
        var statuses = new ConcurrentDictionary<string, List<string>>();
        var received = 0L;
        using var receiving = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var receiver = ReceiveAsync(subscriber, seqs, statuses, () => Interlocked.Increment(ref received), receiving.Token);

        var log = new StringWriter(CultureInfo.InvariantCulture);
        var exitCode = await SimulatorApp.RunAsync(
            [
                "simulate", "--credentials", credentials, "--host", MosquittoServer.Host, "--port", broker.Port.ToString(CultureInfo.InvariantCulture),
                "--vehicles", "220", "--interval", "1s", "--connections", "20", "--load", "--username", SimulatorUser, "--load-connections", "2",
                "--duration", "4s", "--stats-every", "1s",
            ],
            log,
            name => name == CommandLineParser.PasswordVariable ? simulatorPassword : null,
            ct);
        output.WriteLine(log.ToString());

        Assert.Equal(0, exitCode);
        var final = FinalLine().Match(log.ToString());
        Assert.True(final.Success, "no final stats line");
        var sent = long.Parse(final.Groups["sent"].Value, CultureInfo.InvariantCulture);
        var reports = long.Parse(final.Groups["reports"].Value, CultureInfo.InvariantCulture);
        Assert.Equal("22", final.Groups["connections"].Value);
        Assert.Equal(sent, long.Parse(final.Groups["acked"].Value, CultureInfo.InvariantCulture));
        Assert.Equal("0", final.Groups["errors"].Value);
        Assert.InRange(reports, 220 * 3, 220 * 5);

        // Everything acknowledged by the broker reaches the subscriber: sent == received.
        var deadline = DateTime.UtcNow.AddSeconds(15);
        while (Interlocked.Read(ref received) < reports && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50, ct);
        }

        await Task.Delay(200, ct);
        await receiving.CancelAsync();
        await receiver;

        Assert.Equal(reports, Interlocked.Read(ref received));
        Assert.Equal(terminals.Select(t => t.TerminalId).Order(), seqs.Keys.Order());
        Assert.All(seqs, pair =>
        {
            var list = pair.Value.Order().ToList();
            Assert.True(list.Count >= 3, $"{pair.Key}: {list.Count} reports");
            Assert.Equal(Enumerable.Range(0, list.Count).Select(i => list[0] + (uint)i), list);
        });
        Assert.Equal(terminals.Select(t => t.TerminalId).Order(), statuses.Keys.Order());
        Assert.All(statuses, pair => Assert.Equal(["online", "offline"], pair.Value));
    }

    [Fact(Timeout = 60_000)]
    public async Task Stopping_mid_run_waits_for_every_acknowledgement_and_leaves_the_terminals_offline_while_a_refused_terminal_spoils_nothing_else()
    {
        var ct = TestContext.Current.CancellationToken;
        var terminals = TestFleet.Terminals(10, "T0145");
        await using var broker = await MosquittoServer.StartAsync(new MosquittoServerOptions { AclLines = ProductionAcl }, ct);
        foreach (var terminal in terminals)
        {
            // The last terminal's broker password differs from the one in the credentials file.
            await broker.AddUserAsync(terminal.TerminalId, terminal == terminals[^1] ? "something-else" : terminal.Password, reload: false, ct);
        }

        await broker.ReloadAsync(ct);
        await using var subscriber = await SubscribeAsync(broker, ct);
        var seqs = new ConcurrentDictionary<string, List<uint>>();
        var statuses = new ConcurrentDictionary<string, List<string>>();
        var received = 0L;
        using var receiving = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var receiver = ReceiveAsync(subscriber, seqs, statuses, () => Interlocked.Increment(ref received), receiving.Token);

        var log = new StringWriter(CultureInfo.InvariantCulture);
        var profiles = terminals.Select(t => FleetLoader.FromPlate(t, 1)).ToList();
        var runner = new Running.SimulationRunner(
            profiles,
            new Running.SimulationOptions { Host = MosquittoServer.Host, Port = broker.Port, Interval = TimeSpan.FromMilliseconds(200), StatsEvery = TimeSpan.FromSeconds(1) },
            log);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        stop.CancelAfter(TimeSpan.FromSeconds(2));

        var summary = await runner.RunAsync(stop.Token);
        output.WriteLine(log.ToString());

        Assert.Equal(9, summary.Connections);
        Assert.Equal(1, summary.Errors);
        Assert.Equal(summary.Sent, summary.Acked);
        Assert.Equal(summary.Reports, summary.ReportsAcked);
        Assert.Contains($"terminal {terminals[^1].TerminalId} could not connect", log.ToString(), StringComparison.Ordinal);
        Assert.Contains("final: ", log.ToString(), StringComparison.Ordinal);

        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (Interlocked.Read(ref received) < summary.Reports && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50, ct);
        }

        await Task.Delay(200, ct);
        await receiving.CancelAsync();
        await receiver;
        Assert.Equal(summary.Reports, Interlocked.Read(ref received));
        Assert.Equal(9, seqs.Count);
        Assert.DoesNotContain(terminals[^1].TerminalId, seqs.Keys);
        Assert.All(statuses.Values, s => Assert.Equal(["online", "offline"], s));
    }

    [Fact(Timeout = 60_000)]
    public async Task Load_mode_bench_reports_its_acknowledged_rate_and_cpu_time()
    {
        var ct = TestContext.Current.CancellationToken;
        var simulatorPassword = Convert.ToHexString(Guid.NewGuid().ToByteArray());
        await using var broker = await MosquittoServer.StartAsync(new MosquittoServerOptions { AclLines = ProductionAcl }, ct);
        await broker.AddUserAsync(SimulatorUser, simulatorPassword, reload: true, ct);

        var log = new StringWriter(CultureInfo.InvariantCulture);
        var exitCode = await SimulatorApp.RunAsync(
            [
                "bench", "--host", MosquittoServer.Host, "--port", broker.Port.ToString(CultureInfo.InvariantCulture),
                "--vehicles", "30000", "--rate", "30000", "--duration", "8s", "--stats-every", "2s", "--username", SimulatorUser,
            ],
            log,
            name => name == CommandLineParser.PasswordVariable ? simulatorPassword : null,
            ct);
        output.WriteLine(log.ToString());
        TestContext.Current.SendDiagnosticMessage("{0}", log.ToString().Split('\n').Last(l => l.StartsWith("[bench] 30000", StringComparison.Ordinal)));

        Assert.Equal(0, exitCode);
        Assert.Contains("reports/s", log.ToString(), StringComparison.Ordinal);
    }

    private static async Task<MqttClient> SubscribeAsync(MosquittoServer broker, CancellationToken ct)
    {
        var subscriber = new MqttClient(new MqttClientOptions
        {
            Host = MosquittoServer.Host,
            Port = broker.Port,
            ClientId = "test-subscriber",
            Username = MosquittoServer.AdminUser,
            Password = broker.AdminPassword,
        });
        await subscriber.ConnectAsync(ct);
        await subscriber.SubscribeAsync("fleet/v1/+/telemetry", MqttQualityOfService.AtLeastOnce, ct);
        await subscriber.SubscribeAsync("fleet/v1/+/status", MqttQualityOfService.AtLeastOnce, ct);
        return subscriber;
    }

    private static async Task ReceiveAsync(
        MqttClient subscriber,
        ConcurrentDictionary<string, List<uint>> seqs,
        ConcurrentDictionary<string, List<string>> statuses,
        Action countReport,
        CancellationToken ct)
    {
        try
        {
            await foreach (var batch in subscriber.Batches.ReadAllAsync(ct))
            {
                using (batch)
                {
                    foreach (var message in batch)
                    {
                        var parts = message.Topic.Split('/');
                        if (parts[3] == "status")
                        {
                            statuses.GetOrAdd(parts[2], _ => []).Add(Encoding.UTF8.GetString(message.Payload.Span));
                            continue;
                        }

                        var fixes = TestFleet.Parse(message.Payload.Span, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
                        var list = seqs.GetOrAdd(parts[2], _ => []);
                        foreach (var fix in fixes)
                        {
                            list.Add(fix.Seq);
                            countReport();
                        }
                    }
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private static async Task<string> WriteCredentialsAsync(IReadOnlyList<TerminalCredential> terminals, CancellationToken ct)
    {
        var path = Path.Combine(Directory.CreateTempSubdirectory("fleet-simulator-").FullName, "demo-credentials.json");
        var document = new
        {
            notice = "DEMO ONLY",
            users = Array.Empty<object>(),
            terminals = terminals.Select(t => new { terminalId = t.TerminalId, password = t.Password, vehicleId = t.VehicleId, plate = t.Plate }),
        };
        await File.WriteAllTextAsync(path, JsonSerializer.Serialize(document), ct);
        return path;
    }

    [GeneratedRegex(@"final: vehicles=\d+ connections=(?<connections>\d+) sent=(?<sent>\d+) acked=(?<acked>\d+) errors=(?<errors>\d+) reports=(?<reports>\d+)")]
    private static partial Regex FinalLine();
}
