using System.Globalization;
using Fleet.Mqtt.Client;
using Npgsql;

namespace Fleet.Simulator.Suite;

/// <summary><c>Fleet.Simulator suite …</c>: parses the options, runs <see cref="BenchSuite"/>, prints the table and writes the files.</summary>
public static class SuiteCommand
{
    public const string Name = "suite";
    public const string BenchPasswordVariable = "FLEET_BENCH_MQTT_PASSWORD";

    public const string HelpText =
        """
        Fleet.Simulator suite: the benchmark scenarios against a running platform (./fleet bench runs it).

        Usage:
          Fleet.Simulator suite --credentials FILE --db CONNSTRING --hub URL [options]

          --host HOST / --port PORT     the broker (127.0.0.1:1883)
          --username USER               load-mode user publishing under fleet/v1 (fleet-simulator; password in
                                        --password or FLEET_SIMULATOR_PASSWORD)
          --bench-username USER         broker user for the baseline under bench/v1 (fleet-bench; password in
                                        --bench-password or FLEET_BENCH_MQTT_PASSWORD)
          --credentials FILE            the demo credentials file: seeded terminals and the hub user's password
          --db CONNSTRING               the platform's database: positions and rejects are counted there
          --hub URL                     the host's base URL (http://127.0.0.1:5080)
          --hub-user USER               a user who sees every vehicle (supervisor); --hub-password PASS
          --fleet-pid / --mosquitto-pid / --postgres-pid PID
                                        processes whose CPU (whole process tree) and, for Fleet, RSS are measured
          --scenario NAME               broker-baseline, steady-23k, fleet-100k or ramp; repeat or comma-separate (all)
          --quick                       short durations
          --steady-vehicles N           vehicles at 1 Hz in steady-23k and the baseline (23000)
          --fleet-vehicles N            vehicles at one report per 10 s in fleet-100k (100000)
          --duration DURATION           steady-23k's measured time (5m)
          --fleet-duration DURATION     fleet-100k's measured time (2m)
          --warmup DURATION             warm-up before measuring (30s)
          --ramp-start RATE             the ramp's first rate (8000/s); each step ×1.25, then two narrowing down on the limit
          --ramp-step DURATION          each ramp step (20s)
          --out DIR                     where latest.json, latest.md and latest.html go (bench-results)
          --note TEXT                   a line for the report (machine load, commit)
        """;

    public static async Task<int> RunAsync(IReadOnlyList<string> args, TextWriter output, Func<string, string?> environment, CancellationToken stop)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(environment);
        SuiteOptions options;
        try
        {
            options = Parse(args, environment);
        }
        catch (FormatException ex)
        {
            await output.WriteLineAsync($"error: {ex.Message}\nRun with suite --help for the options.");
            return 2;
        }

        if (args.Contains("--help") || args.Contains("-h"))
        {
            await output.WriteAsync(HelpText);
            return 0;
        }

        SuiteResult result;
        try
        {
            await using var suite = new BenchSuite(options, output);
            result = await suite.RunAsync(stop);
        }
        catch (Exception ex) when (ex is IOException or NpgsqlException or MqttConnectException or HttpRequestException or InvalidOperationException or System.Net.WebSockets.WebSocketException or TimeoutException)
        {
            await output.WriteLineAsync($"error: the suite failed: {ex.Message}");
            return 1;
        }

        await output.WriteLineAsync();
        await output.WriteAsync(SuiteReport.Table(result));
        var paths = await SuiteReport.WriteAsync(result, options.OutputDirectory, stop);
        await output.WriteLineAsync($"results: {string.Join(", ", paths)}");
        return 0;
    }

    public static SuiteOptions Parse(IReadOnlyList<string> args, Func<string, string?> environment)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(environment);
        var options = new SuiteOptions
        {
            LoadPassword = environment(Cli.CommandLineParser.PasswordVariable),
            BenchPassword = environment(BenchPasswordVariable),
        };
        var quick = false;
        var scenarios = new List<string>();
        var start = args.Count > 0 && args[0] == Name ? 1 : 0;
        for (var i = start; i < args.Count; i++)
        {
            var flag = args[i];
            string Value() => i + 1 < args.Count ? args[++i] : throw new FormatException($"{flag} needs a value.");
            switch (flag)
            {
                case "--help" or "-h":
                    break;
                case "--host":
                    options = options with { Host = Value() };
                    break;
                case "--port":
                    options = options with { Port = Int(flag, Value()) };
                    break;
                case "--username":
                    options = options with { LoadUsername = Value() };
                    break;
                case "--password":
                    options = options with { LoadPassword = Value() };
                    break;
                case "--bench-username":
                    options = options with { BenchUsername = Value() };
                    break;
                case "--bench-password":
                    options = options with { BenchPassword = Value() };
                    break;
                case "--credentials":
                    options = options with { CredentialsPath = Value() };
                    break;
                case "--db":
                    options = options with { Database = Value() };
                    break;
                case "--hub":
                    options = options with { HubBaseAddress = new Uri(Value()) };
                    break;
                case "--hub-user":
                    options = options with { HubUsername = Value() };
                    break;
                case "--hub-password":
                    options = options with { HubPassword = Value() };
                    break;
                case "--fleet-pid":
                    options = options with { FleetPid = Int(flag, Value()) };
                    break;
                case "--mosquitto-pid":
                    options = options with { MosquittoPid = Int(flag, Value()) };
                    break;
                case "--postgres-pid":
                    options = options with { PostgresPid = Int(flag, Value()) };
                    break;
                case "--scenario":
                    foreach (var name in Value().Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
                    {
                        scenarios.Add(SuiteOptions.AllScenarios.Contains(name)
                            ? name
                            : throw new FormatException($"Unknown scenario '{name}': {string.Join(", ", SuiteOptions.AllScenarios)}."));
                    }

                    break;
                case "--quick":
                    quick = true;
                    break;
                case "--steady-vehicles":
                    options = options with { SteadyVehicles = Int(flag, Value()) };
                    break;
                case "--fleet-vehicles":
                    options = options with { FleetVehicles = Int(flag, Value()) };
                    break;
                case "--duration":
                    options = options with { SteadyDuration = Cli.CommandLineParser.ParseDuration(flag, Value()) };
                    break;
                case "--fleet-duration":
                    options = options with { FleetDuration = Cli.CommandLineParser.ParseDuration(flag, Value()) };
                    break;
                case "--warmup":
                    options = options with { Warmup = Cli.CommandLineParser.ParseDuration(flag, Value()) };
                    break;
                case "--ramp-start":
                    options = options with { RampStartRate = Int(flag, Value()) };
                    break;
                case "--ramp-step":
                    options = options with { RampStepDuration = Cli.CommandLineParser.ParseDuration(flag, Value()) };
                    break;
                case "--out":
                    options = options with { OutputDirectory = Value() };
                    break;
                case "--note":
                    options = options with { Note = Value() };
                    break;
                default:
                    throw new FormatException($"Unknown option '{flag}'.");
            }
        }

        if (quick)
        {
            options = SuiteOptions.Quick(options);
        }

        // Explicit durations win over --quick.
        options = Reapply(options, args);
        if (scenarios.Count > 0)
        {
            options = options with { Scenarios = SuiteOptions.AllScenarios.Where(scenarios.Contains).ToList() };
        }

        if (!args.Contains("--help") && !args.Contains("-h") && (options.CredentialsPath.Length == 0 || options.Database.Length == 0))
        {
            throw new FormatException("suite needs --credentials and --db.");
        }

        return options;
    }

    private static SuiteOptions Reapply(SuiteOptions options, IReadOnlyList<string> args)
    {
        for (var i = 0; i + 1 < args.Count; i++)
        {
            options = args[i] switch
            {
                "--duration" => options with { SteadyDuration = Cli.CommandLineParser.ParseDuration(args[i], args[i + 1]) },
                "--fleet-duration" => options with { FleetDuration = Cli.CommandLineParser.ParseDuration(args[i], args[i + 1]) },
                "--warmup" => options with { Warmup = Cli.CommandLineParser.ParseDuration(args[i], args[i + 1]) },
                "--ramp-step" => options with { RampStepDuration = Cli.CommandLineParser.ParseDuration(args[i], args[i + 1]) },
                _ => options,
            };
        }

        return options;
    }

    private static int Int(string flag, string text) =>
        int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) && value > 0
            ? value
            : throw new FormatException($"{flag} expects a positive whole number: {text}.");
}
