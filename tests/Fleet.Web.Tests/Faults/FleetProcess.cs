using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;

namespace Fleet.Web.Tests.Faults;

/// <summary>
/// The built Fleet host (src/Fleet.Web/bin/Release/net10.0/Fleet.Web.dll) as a child process, configured as
/// <c>./fleet up</c> configures it (environment variables, content root src/Fleet.Web), so a test can SIGKILL it and
/// start it again on the same port. Its output goes to a log file the test prints on failure.
/// </summary>
internal sealed class FleetProcess : IAsyncDisposable
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(180);

    private readonly IReadOnlyDictionary<string, string> _settings;
    private readonly string _logFile;
    private readonly Lock _logLock = new();
    private StreamWriter? _log;
    private Process? _process;

    public FleetProcess(IReadOnlyDictionary<string, string> settings, string logFile)
    {
        _settings = settings;
        _logFile = logFile;
        Port = FindFreePort();
        BaseAddress = new Uri($"http://127.0.0.1:{Port.ToString(CultureInfo.InvariantCulture)}");
        Client = new HttpClient { BaseAddress = BaseAddress, Timeout = TimeSpan.FromSeconds(30) };

        // A test host stopped by a signal skips the fixtures' disposal; this keeps it from leaving a Fleet host behind.
        AppDomain.CurrentDomain.ProcessExit += OnProcessExit;
    }

    public static string WebDll => Path.Combine(TestPaths.Root, "src", "Fleet.Web", "bin", "Release", "net10.0", "Fleet.Web.dll");

    public int Port { get; }

    public Uri BaseAddress { get; }

    /// <summary>Anonymous; /health and /metrics (served to loopback) need no session.</summary>
    public HttpClient Client { get; }

    public int? ProcessId => _process is { HasExited: false } process ? process.Id : null;

    public bool IsRunning => _process is { HasExited: false };

    /// <summary>Starts the host and waits until /health answers 200 (migrated, seeded, connected to the broker).</summary>
    public async Task StartAsync(CancellationToken ct)
    {
        if (IsRunning)
        {
            throw new InvalidOperationException("The Fleet host is already running.");
        }

        if (!File.Exists(WebDll))
        {
            throw new InvalidOperationException($"{WebDll} is missing: build tests/Fleet.Web.Tests (it builds Fleet.Web) first.");
        }

        var startInfo = new ProcessStartInfo("dotnet")
        {
            // The content root is the project folder, where appsettings.json and wwwroot live (as ./fleet runs it).
            WorkingDirectory = Path.Combine(TestPaths.Root, "src", "Fleet.Web"),
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        startInfo.ArgumentList.Add(WebDll);
        startInfo.Environment["ASPNETCORE_URLS"] = BaseAddress.ToString().TrimEnd('/');
        startInfo.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        foreach (var (key, value) in _settings)
        {
            startInfo.Environment[key.Replace(":", "__", StringComparison.Ordinal)] = value;
        }

        lock (_logLock)
        {
            _log ??= new StreamWriter(new FileStream(_logFile, FileMode.Append, FileAccess.Write, FileShare.ReadWrite)) { AutoFlush = true };
            _log.WriteLine($"==== {DateTime.UtcNow:HH:mm:ss.fff} starting {WebDll}");
        }

        var process = new Process { StartInfo = startInfo };
        process.OutputDataReceived += (_, e) => Append(e.Data);
        process.ErrorDataReceived += (_, e) => Append(e.Data);
        if (!process.Start())
        {
            throw new InvalidOperationException("Could not start dotnet.");
        }

        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        _process?.Dispose();
        _process = process;

        var deadline = Stopwatch.StartNew();
        while (true)
        {
            if (process.HasExited)
            {
                throw new InvalidOperationException($"The Fleet host exited with code {process.ExitCode} while starting.\n{ReadLogTail()}");
            }

            if (deadline.Elapsed > StartTimeout)
            {
                throw new TimeoutException($"The Fleet host did not answer /health with 200 within {StartTimeout.TotalSeconds:0} s.\n{ReadLogTail()}");
            }

            var (status, _) = await TryGetHealthAsync(ct);
            if (status == HttpStatusCode.OK)
            {
                return;
            }

            await Task.Delay(250, ct);
        }
    }

    /// <summary>SIGKILL: no shutdown hook, no final flush, no graceful disconnect: what a crash or the OOM killer does.</summary>
    public async Task KillAsync()
    {
        if (_process is not { HasExited: false } process)
        {
            return;
        }

        // Process.Kill sends SIGKILL on Unix.
        process.Kill();
        await process.WaitForExitAsync(CancellationToken.None);
        Append($"==== {DateTime.UtcNow:HH:mm:ss.fff} killed (SIGKILL)");
    }

    /// <summary>The child's resident set size from /proc/&lt;pid&gt;/status (VmRSS), or null when it is not running.</summary>
    public long? ReadRssBytes()
    {
        if (ProcessId is not { } pid)
        {
            return null;
        }

        try
        {
            foreach (var line in File.ReadLines($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/status"))
            {
                if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                {
                    var kb = long.Parse(line["VmRSS:".Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture);
                    return kb * 1024;
                }
            }
        }
        catch (IOException)
        {
            // Exited meanwhile.
        }

        return null;
    }

    /// <summary>GET /health: the status code and the body, or (null, null) when the host does not answer.</summary>
    public async Task<(HttpStatusCode? Status, JsonElement? Body)> TryGetHealthAsync(CancellationToken ct)
    {
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            timeout.CancelAfter(TimeSpan.FromSeconds(10));
            using var response = await Client.GetAsync("/health", timeout.Token);
            var text = await response.Content.ReadAsStringAsync(timeout.Token);
            JsonElement? body = null;
            try
            {
                body = JsonDocument.Parse(text).RootElement.Clone();
            }
            catch (JsonException)
            {
            }

            return (response.StatusCode, body);
        }
        catch (Exception ex) when (ex is HttpRequestException or OperationCanceledException && !ct.IsCancellationRequested)
        {
            return (null, null);
        }
    }

    /// <summary>One scrape of /metrics as name (labels included) → value; null when the host does not answer.</summary>
    public async Task<IReadOnlyDictionary<string, double>?> TryScrapeAsync(CancellationToken ct)
    {
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            timeout.CancelAfter(TimeSpan.FromSeconds(10));
            var text = await Client.GetStringAsync("/metrics", timeout.Token);
            var values = new Dictionary<string, double>(StringComparer.Ordinal);
            foreach (var line in text.Split('\n'))
            {
                if (line.Length == 0 || line[0] == '#')
                {
                    continue;
                }

                var space = line.LastIndexOf(' ');
                if (space > 0 && double.TryParse(line[(space + 1)..], NumberStyles.Float, CultureInfo.InvariantCulture, out var value))
                {
                    values[line[..space]] = value;
                }
            }

            return values;
        }
        catch (Exception ex) when (ex is HttpRequestException or OperationCanceledException && !ct.IsCancellationRequested)
        {
            return null;
        }
    }

    public string ReadLogTail(int lines = 60)
    {
        try
        {
            using var stream = new FileStream(_logFile, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            using var reader = new StreamReader(stream);
            var all = reader.ReadToEnd().Split('\n');
            return $"--- last {lines} lines of {_logFile} ---\n" + string.Join('\n', all.TakeLast(lines));
        }
        catch (IOException)
        {
            return "(no host log)";
        }
    }

    /// <summary>The host log's lines containing <paramref name="text"/>.</summary>
    public IReadOnlyList<string> FindInLog(string text)
    {
        using var stream = new FileStream(_logFile, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        using var reader = new StreamReader(stream);
        return [.. reader.ReadToEnd().Split('\n').Where(l => l.Contains(text, StringComparison.Ordinal))];
    }

    public async ValueTask DisposeAsync()
    {
        AppDomain.CurrentDomain.ProcessExit -= OnProcessExit;
        await KillAsync();
        _process?.Dispose();
        Client.Dispose();
        lock (_logLock)
        {
            _log?.Dispose();
            _log = null;
        }
    }

    private void OnProcessExit(object? sender, EventArgs e)
    {
        try
        {
            if (_process is { HasExited: false } process)
            {
                process.Kill();
            }
        }
        catch (InvalidOperationException)
        {
            // Already reaped.
        }
    }

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_logLock)
        {
            _log?.WriteLine(line);
        }
    }

    private static int FindFreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
