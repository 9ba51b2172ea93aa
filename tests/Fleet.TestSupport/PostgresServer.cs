using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Npgsql;

namespace Fleet.TestSupport;

/// <summary>
/// A throwaway PostgreSQL 15 + PostGIS cluster in a temp folder, listening on a free loopback port.
/// Tuned for tests, not for durability: a crash loses the cluster, which is deleted afterwards anyway.
/// </summary>
public sealed class PostgresServer : IAsyncDisposable
{
    public const string BinDirectory = "/usr/lib/postgresql/15/bin";
    public const string SuperUser = "postgres";
    private const string OsUser = "postgres";
    private const string NotInstalledMessage = "PostgreSQL/PostGIS not found: run ./fleet setup";
    private const string PostgisControlFile = "/usr/share/postgresql/15/extension/postgis.control";

    // A port picked free can be taken by someone else before the postmaster binds it; retry with a new one.
    private const int StartAttempts = 3;

    private readonly string _rootDirectory;
    private readonly string _dataDirectory;
    private readonly string _logFile;
    private int _disposed;

    private PostgresServer(string rootDirectory)
    {
        _rootDirectory = rootDirectory;
        _dataDirectory = Path.Combine(rootDirectory, "data");
        _logFile = Path.Combine(rootDirectory, "postgres.log");

        // A test host stopped by a signal skips the fixtures' disposal; this keeps it from leaving a postmaster behind.
        AppDomain.CurrentDomain.ProcessExit += OnProcessExit;
    }

    public int Port { get; private set; }

    public static string Host => "127.0.0.1";

    /// <summary>The temp folder holding the data directory, the socket and the log.</summary>
    public string RootDirectory => _rootDirectory;

    /// <summary>How long <see cref="StartAsync"/> took (initdb + start), for the curious.</summary>
    public TimeSpan StartupTime { get; private set; }

    /// <summary>Initialises and starts a new cluster. Throws when the binaries are missing; never skips.</summary>
    public static async Task<PostgresServer> StartAsync(CancellationToken cancellationToken = default)
    {
        EnsureInstalled();
        var stopwatch = Stopwatch.StartNew();
        var root = Directory.CreateTempSubdirectory("fleet-pg-").FullName;
        var server = new PostgresServer(root);
        try
        {
            await server.InitialiseAsync(cancellationToken);
            await server.StartOnFreePortAsync(cancellationToken);
            server.StartupTime = stopwatch.Elapsed;
            return server;
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
    }

    /// <summary>A connection string builder for a database in this cluster, as the superuser.</summary>
    public NpgsqlConnectionStringBuilder CreateConnectionStringBuilder(string database = "postgres") => new()
    {
        Host = Host,
        Port = Port,
        Database = database,
        Username = SuperUser,
        // Every test opens data sources of its own and most are disposed only at the end of the run: a modest pool,
        // and idle connections closed after 2 s, keep the server's connection count bounded.
        MaxPoolSize = 20,
        ConnectionIdleLifetime = 2,
        ConnectionPruningInterval = 1,
        Timeout = 15,
        CommandTimeout = 60,
    };

    /// <summary>
    /// Stops the server but keeps the cluster (fast shutdown: sessions are ended), so a test can watch clients
    /// cope with the database going away. <see cref="RestartAsync"/> brings it back on the same port.
    /// </summary>
    public async Task StopAsync(CancellationToken cancellationToken = default) =>
        await RunAsync("pg_ctl", ["-D", _dataDirectory, "-m", "fast", "-w", "-t", "30", "stop"], throwOnError: true, cancellationToken);

    /// <summary>Starts a stopped server again on the same <see cref="Port"/>, so existing connection strings still work.</summary>
    public async Task RestartAsync(CancellationToken cancellationToken = default)
    {
        var result = await RunAsync(
            "pg_ctl",
            ["-D", _dataDirectory, "-l", _logFile, "-w", "-t", "30", "-o", "-p " + Port.ToString(CultureInfo.InvariantCulture), "start"],
            throwOnError: false,
            cancellationToken);
        if (result.ExitCode != 0)
        {
            // Most likely someone took the port while the server was down; a test cannot pick another one for it.
            throw new InvalidOperationException($"PostgreSQL failed to restart on 127.0.0.1:{Port} (pg_ctl exit {result.ExitCode}): {result.Output}\n--- {_logFile} ---\n{ReadLogTail()}");
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        AppDomain.CurrentDomain.ProcessExit -= OnProcessExit;
        if (File.Exists(Path.Combine(_dataDirectory, "postmaster.pid")))
        {
            // Immediate: no shutdown checkpoint, the data is thrown away next.
            await RunAsync("pg_ctl", ["-D", _dataDirectory, "-m", "immediate", "-w", "-t", "30", "stop"], throwOnError: false, CancellationToken.None);
        }

        DeleteDirectory(_rootDirectory);
    }

    private void OnProcessExit(object? sender, EventArgs e) => DisposeAsync().AsTask().GetAwaiter().GetResult();

    private static void EnsureInstalled()
    {
        string[] required = ["initdb", "pg_ctl", "postgres"];
        if (required.Any(b => !File.Exists(Path.Combine(BinDirectory, b))) || !File.Exists(PostgisControlFile))
        {
            throw new InvalidOperationException(NotInstalledMessage);
        }
    }

    private async Task InitialiseAsync(CancellationToken cancellationToken)
    {
        if (RunsAsRoot)
        {
            // PostgreSQL refuses to run as root: the cluster belongs to the postgres OS user.
            await RunProcessAsync("chown", [OsUser + ":" + OsUser, _rootDirectory], cancellationToken);
        }

        // Trust auth: the cluster lives for one test run, listens on loopback only and holds nothing but test
        // data, so there are no passwords to generate and pass around.
        await RunAsync(
            "initdb",
            ["-D", _dataDirectory, "-U", SuperUser, "-A", "trust", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync", "--no-instructions"],
            throwOnError: true,
            cancellationToken);

        // Speed over durability: a lost cluster costs nothing here.
        var settings = new StringBuilder()
            .AppendLine()
            .AppendLine("# Fleet test cluster settings")
            .AppendLine("listen_addresses = '127.0.0.1'")
            .AppendLine(CultureInfo.InvariantCulture, $"unix_socket_directories = '{_rootDirectory}'")
            .AppendLine("fsync = off")
            .AppendLine("synchronous_commit = off")
            .AppendLine("full_page_writes = off")
            .AppendLine("shared_buffers = 32MB")
            .AppendLine("max_connections = 500")
            .AppendLine("max_wal_size = 1GB")
            .AppendLine("logging_collector = off")
            .AppendLine("log_min_messages = warning")
            .AppendLine("timezone = 'UTC'");
        await File.AppendAllTextAsync(Path.Combine(_dataDirectory, "postgresql.conf"), settings.ToString(), cancellationToken);
    }

    private async Task StartOnFreePortAsync(CancellationToken cancellationToken)
    {
        for (var attempt = 1; ; attempt++)
        {
            Port = FindFreePort();
            var result = await RunAsync(
                "pg_ctl",
                ["-D", _dataDirectory, "-l", _logFile, "-w", "-t", "30", "-o", "-p " + Port.ToString(CultureInfo.InvariantCulture), "start"],
                throwOnError: false,
                cancellationToken);
            if (result.ExitCode == 0)
            {
                return;
            }

            var log = ReadLogTail();
            if (attempt >= StartAttempts || !log.Contains("could not bind", StringComparison.OrdinalIgnoreCase))
            {
                throw new InvalidOperationException($"PostgreSQL failed to start on 127.0.0.1:{Port} (pg_ctl exit {result.ExitCode}): {result.Output}\n--- {_logFile} ---\n{log}");
            }
        }
    }

    private static int FindFreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private string ReadLogTail()
    {
        try
        {
            var lines = File.ReadAllLines(_logFile);
            return string.Join('\n', lines.TakeLast(30));
        }
        catch (IOException)
        {
            return "(no log)";
        }
        catch (UnauthorizedAccessException)
        {
            return "(log not readable)";
        }
    }

    private static bool RunsAsRoot => Environment.IsPrivilegedProcess;

    /// <summary>Runs a PostgreSQL binary, as the postgres OS user when this process is root.</summary>
    private static Task<ProcessResult> RunAsync(string binary, IReadOnlyList<string> arguments, bool throwOnError, CancellationToken cancellationToken)
    {
        var path = Path.Combine(BinDirectory, binary);
        return RunsAsRoot
            ? RunProcessAsync("runuser", ["-u", OsUser, "--", path, .. arguments], cancellationToken, throwOnError)
            : RunProcessAsync(path, arguments, cancellationToken, throwOnError);
    }

    private static async Task<ProcessResult> RunProcessAsync(string fileName, IReadOnlyList<string> arguments, CancellationToken cancellationToken, bool throwOnError = true)
    {
        var startInfo = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = false,
            UseShellExecute = false,
            // The postgres user cannot read the caller's working directory when that is under /root.
            WorkingDirectory = "/",
        };
        foreach (var argument in arguments)
        {
            startInfo.ArgumentList.Add(argument);
        }

        // Messages are parsed for "could not bind"; keep them in English.
        startInfo.Environment["LC_ALL"] = "C.UTF-8";
        startInfo.Environment["LANG"] = "C.UTF-8";

        using var process = Process.Start(startInfo) ?? throw new InvalidOperationException($"Could not start {fileName}");
        var stdout = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var stderr = process.StandardError.ReadToEndAsync(cancellationToken);
        await process.WaitForExitAsync(cancellationToken);
        var output = (await stdout + await stderr).Trim();
        if (throwOnError && process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{fileName} {string.Join(' ', arguments)} failed with exit code {process.ExitCode}: {output}");
        }

        return new ProcessResult(process.ExitCode, output);
    }

    private static void DeleteDirectory(string path)
    {
        // The postmaster may still be releasing files right after an immediate stop; a few retries settle it.
        for (var attempt = 1; attempt <= 5; attempt++)
        {
            try
            {
                if (Directory.Exists(path))
                {
                    Directory.Delete(path, recursive: true);
                }

                return;
            }
            catch (IOException) when (attempt < 5)
            {
                Thread.Sleep(100 * attempt);
            }
            catch (UnauthorizedAccessException) when (attempt < 5)
            {
                Thread.Sleep(100 * attempt);
            }
        }
    }

    private sealed record ProcessResult(int ExitCode, string Output);
}
