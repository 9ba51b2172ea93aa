using System.Globalization;
using System.Text;
using Fleet.Simulator.Behaviour;
using Fleet.Simulator.Running;

namespace Fleet.Simulator.Cli;

public enum SimulatorCommand
{
    Help,
    Simulate,
    Bench,
}

/// <summary>A parsed command line.</summary>
public sealed record CommandLine(
    SimulatorCommand Command,
    SimulationOptions Options,
    string? CredentialsPath,
    int? Vehicles,
    double? Rate,
    string? Database);

/// <summary>Hand-rolled parsing: a dozen flags do not justify a dependency, and the help text stays in one place.</summary>
public static class CommandLineParser
{
    public const string PasswordVariable = "FLEET_SIMULATOR_PASSWORD";

    public static string HelpText
    {
        get
        {
            var help = new StringBuilder();
            help.AppendLine(
                """
                Fleet.Simulator: drives vehicles on generated city road networks and publishes their terminals'
                reports (protocol v1) to the broker over MQTT 5, QoS 1, counting every PUBACK.

                Usage:
                  Fleet.Simulator simulate --credentials .fleet/demo-credentials.json [options]
                  Fleet.Simulator bench --vehicles N (--rate R | --interval I) --username fleet-simulator [options]
                  Fleet.Simulator suite --credentials FILE --db CONNSTRING --hub URL [options]   (the benchmark
                                            scenarios of ./fleet bench; suite --help lists its options)

                Connection:
                  --host HOST               broker host (127.0.0.1)
                  --port PORT               broker port (1883)
                  --connections M           simulate: vehicles that connect with their own terminal credentials,
                                            client id = username = terminal id, will = retained offline (2000)
                  --load                    multiplex the vehicles beyond --connections over a few connections
                                            as the load-mode user, who may publish for any terminal
                  --username USER           load-mode user (fleet-simulator)
                  --password PASS           its password (or the FLEET_SIMULATOR_PASSWORD variable)
                  --load-connections K      connections the load-mode vehicles share (4)

                Vehicles:
                  --credentials PATH        the demo credentials file: terminals with id, password, vehicle id, plate
                                            (bench without it uses synthetic terminal ids in Hohhot)
                  --vehicles N              how many (simulate: all in the file; bench: 10000)
                  --db CONNSTRING           read regions and home lots from the registry (read-only); without it
                                            the plate prefix gives the region (蒙A Hohhot, 蒙B Baotou …) and lots are generated
                  --seed S                  seeds the road networks and the vehicles (20261122)

                Pace:
                  --interval DURATION       each vehicle reports once per interval, slots spread evenly (10s; bench 1s)
                  --rate R                  bench: total reports per second (sets the interval to vehicles / R)
                  --duration DURATION       stop after this long (simulate: run until Ctrl-C; bench: 30s)
                  --stats-every DURATION    stats line interval (10s)
                  Durations: 500ms, 10s, 5m, 1h; a bare number is seconds.

                Scenarios (--scenario NAME; played by --scenario-share SHARE of the vehicles, 0.1 = every tenth):
                """);
            foreach (var (name, _, description) in Scenarios.All)
            {
                AppendWrapped(help, "  " + name.PadRight(26), description);
            }

            help.AppendLine(
                """
                  --silent-for DURATION     unplugged: how long the terminal stays silent (20m)
                  --backlog-for DURATION    backlog: how long the terminal stays offline (10m)

                bench runs every vehicle in load mode, driving all the time, and prints the acknowledged rate and
                the process CPU time. Stats lines: sent, acked, errors, behind (reports started > 1 s after their
                slot), max-lag. Ctrl-C or SIGTERM: waits for every outstanding PUBACK, publishes retained offline,
                disconnects and prints the final stats. Exit code 0 when nothing failed.
                """);
            return help.ToString();
        }
    }

    private static void AppendWrapped(StringBuilder help, string label, string text)
    {
        const int Width = 104;
        var line = new StringBuilder(label);
        foreach (var word in text.Split(' '))
        {
            if (line.Length + word.Length + 1 > Width && line.Length > label.Length)
            {
                help.AppendLine(line.ToString().TrimEnd());
                line.Clear().Append(' ', label.Length);
            }

            line.Append(word).Append(' ');
        }

        help.AppendLine(line.ToString().TrimEnd());
    }

    /// <summary>Parses <paramref name="args"/>; on error returns false with a message.</summary>
    public static bool TryParse(IReadOnlyList<string> args, Func<string, string?> environment, out CommandLine result, out string? error)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(environment);
        result = new CommandLine(SimulatorCommand.Help, new SimulationOptions(), null, null, null, null);
        error = null;
        if (args.Count == 0 || args[0] is "help" or "--help" or "-h")
        {
            return true;
        }

        var command = args[0] switch
        {
            "simulate" => SimulatorCommand.Simulate,
            "bench" => SimulatorCommand.Bench,
            _ => (SimulatorCommand?)null,
        };
        if (command is null)
        {
            error = $"Unknown command '{args[0]}': use simulate, bench or suite.";
            return false;
        }

        var bench = command == SimulatorCommand.Bench;
        var options = new SimulationOptions
        {
            Label = bench ? "bench" : "simulate",
            Interval = bench ? TimeSpan.FromSeconds(1) : TimeSpan.FromSeconds(10),
            Duration = bench ? TimeSpan.FromSeconds(30) : null,
            OwnConnections = bench ? 0 : 2000,
        };
        var behaviour = bench ? new BehaviourSettings(Continuous: true) : BehaviourSettings.Default;
        string? credentials = null, database = null, username = null, password = null;
        int? vehicles = null;
        double? rate = null;
        var load = bench;
        try
        {
            for (var i = 1; i < args.Count; i++)
            {
                var flag = args[i];
                string Value() => i + 1 < args.Count ? args[++i] : throw new FormatException($"{flag} needs a value.");
                switch (flag)
                {
                    case "--help" or "-h":
                        result = result with { Command = SimulatorCommand.Help };
                        return true;
                    case "--credentials":
                        credentials = Value();
                        break;
                    case "--host":
                        options = options with { Host = Value() };
                        break;
                    case "--port":
                        options = options with { Port = ParseInt(flag, Value(), 1, 65535) };
                        break;
                    case "--vehicles":
                        vehicles = ParseInt(flag, Value(), 1, 1_000_000);
                        break;
                    case "--interval":
                        options = options with { Interval = ParseDuration(flag, Value()) };
                        break;
                    case "--rate":
                        rate = ParseDouble(flag, Value());
                        break;
                    case "--connections":
                        options = options with { OwnConnections = bench ? 0 : ParseInt(flag, Value(), 0, 1_000_000) };
                        break;
                    case "--load":
                        load = true;
                        break;
                    case "--username":
                        username = Value();
                        break;
                    case "--password":
                        password = Value();
                        break;
                    case "--load-connections":
                        options = options with { LoadConnections = ParseInt(flag, Value(), 1, 1000) };
                        break;
                    case "--db":
                        database = Value();
                        break;
                    case "--seed":
                        options = options with { Seed = ParseInt(flag, Value(), int.MinValue, int.MaxValue) };
                        break;
                    case "--duration":
                        options = options with { Duration = ParseDuration(flag, Value()) };
                        break;
                    case "--stats-every":
                        options = options with { StatsEvery = ParseDuration(flag, Value()) };
                        break;
                    case "--scenario":
                        var name = Value();
                        behaviour = Scenarios.TryParse(name, out var kind)
                            ? behaviour with { Scenario = kind }
                            : throw new FormatException($"Unknown scenario '{name}': {string.Join(", ", Scenarios.All.Select(s => s.Name))}.");
                        break;
                    case "--scenario-share":
                        behaviour = behaviour with { AffectedShare = Math.Clamp(ParseDouble(flag, Value()), 0, 1) };
                        break;
                    case "--silent-for":
                        behaviour = behaviour with { SilentFor = ParseDuration(flag, Value()) };
                        break;
                    case "--backlog-for":
                        behaviour = behaviour with { BacklogFor = ParseDuration(flag, Value()) };
                        break;
                    default:
                        throw new FormatException($"Unknown option '{flag}'.");
                }
            }
        }
        catch (FormatException ex)
        {
            error = ex.Message;
            return false;
        }

        if (!bench && credentials is null)
        {
            error = "simulate needs --credentials (the demo credentials file).";
            return false;
        }

        if (rate is { } r)
        {
            if (!bench)
            {
                error = "--rate is for bench; simulate paces by --interval.";
                return false;
            }

            options = options with { Interval = TimeSpan.FromSeconds((vehicles ?? 10_000) / r) };
        }

        if (load)
        {
            options = options with
            {
                LoadUsername = username ?? "fleet-simulator",
                LoadPassword = password ?? environment(PasswordVariable),
            };
        }

        result = new CommandLine(command.Value, options with { Behaviour = behaviour }, credentials, vehicles ?? (bench ? 10_000 : null), rate, database);
        return true;
    }

    /// <summary>500ms, 10s, 5m, 1h, or a bare number of seconds.</summary>
    public static TimeSpan ParseDuration(string flag, string text)
    {
        var (number, unit) = text switch
        {
            _ when text.EndsWith("ms", StringComparison.Ordinal) => (text[..^2], 0.001),
            _ when text.EndsWith('s') => (text[..^1], 1.0),
            _ when text.EndsWith('m') => (text[..^1], 60.0),
            _ when text.EndsWith('h') => (text[..^1], 3600.0),
            _ => (text, 1.0),
        };
        var value = ParseDouble(flag, number) * unit;
        return value > 0 ? TimeSpan.FromSeconds(value) : throw new FormatException($"{flag} must be positive: {text}.");
    }

    private static int ParseInt(string flag, string text, int min, int max) =>
        int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) && value >= min && value <= max
            ? value
            : throw new FormatException($"{flag} expects a whole number from {min} to {max}: {text}.");

    private static double ParseDouble(string flag, string text) =>
        double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) && double.IsFinite(value) && value >= 0
            ? value
            : throw new FormatException($"{flag} expects a non-negative number: {text}.");
}
