using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;

namespace Fleet.TestSupport;

/// <summary>Settings for a private broker; the defaults suit the MQTT tests.</summary>
public sealed record MosquittoServerOptions
{
    /// <summary>ACL lines after the built-in full-access entry for the admin user (for example <c>pattern write fleet/v1/%u/telemetry</c>).</summary>
    public IReadOnlyList<string> AclLines { get; init; } = [];

    /// <summary>Mosquitto's max_inflight_messages; for 5.0 clients it is also the Receive Maximum in CONNACK.</summary>
    public int MaxInflightMessages { get; init; } = 65535;

    public int MaxQueuedMessages { get; init; } = 1_000_000;

    /// <summary>Extra raw configuration lines.</summary>
    public IReadOnlyList<string> ExtraConfig { get; init; } = [];

    /// <summary>Adds a second, TLS listener (<see cref="MosquittoServer.TlsPort"/>) with a generated self-signed certificate.</summary>
    public bool EnableTls { get; init; }

    /// <summary>
    /// A password file the test manages (for example one generated from the registry). It must exist and be readable
    /// by the mosquitto user before the start. The server then creates no admin user: <see cref="MosquittoServer.AddUserAsync"/> refuses.
    /// </summary>
    public string? ExternalPasswordFile { get; init; }

    /// <summary>An ACL file the test manages; <see cref="AclLines"/> and <see cref="MosquittoServer.SetAclAsync"/> are then not used.</summary>
    public string? ExternalAclFile { get; init; }
}

/// <summary>
/// A private Mosquitto 2.0 on a free loopback port, in a fresh temp folder with a generated config: password file,
/// ACL file, persistence and a log file. Supports reload (SIGHUP), stop/kill/start again on the same port (for
/// persistence and reconnect tests) and pause/resume (SIGSTOP/SIGCONT, a peer that stops answering).
/// </summary>
public sealed class MosquittoServer : IAsyncDisposable
{
    public const string NotInstalledMessage = "Mosquitto not found: run ./fleet setup";
    public const string AdminUser = "fleet-admin";

    private const int StartAttempts = 3;

    private static readonly string[] MosquittoCandidates = ["/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto"];

    private readonly SemaphoreSlim _fileLock = new(1, 1);
    private readonly StringBuilder _processOutput = new();
    private Process? _process;
    private int _disposed;

    private MosquittoServer(string rootDirectory, MosquittoServerOptions options)
    {
        RootDirectory = rootDirectory;
        Options = options;
        AdminPassword = Convert.ToHexString(RandomNumberGenerator.GetBytes(12));
        AppDomain.CurrentDomain.ProcessExit += OnProcessExit;
    }

    public static string Host => "127.0.0.1";

    public static string MosquittoPath => FindExecutable(MosquittoCandidates, "mosquitto");
    public static string MosquittoPasswdPath => FindExecutable(["/usr/bin/mosquitto_passwd"], "mosquitto_passwd");
    public static string MosquittoPubPath => FindExecutable(["/usr/bin/mosquitto_pub"], "mosquitto_pub");
    public static string MosquittoSubPath => FindExecutable(["/usr/bin/mosquitto_sub"], "mosquitto_sub");

    public int Port { get; private set; }

    /// <summary>The TLS listener's port, or 0 without <see cref="MosquittoServerOptions.EnableTls"/>.</summary>
    public int TlsPort { get; private set; }

    /// <summary>The broker's self-signed certificate (public part), for a client to pin.</summary>
    public X509Certificate2? TlsCertificate { get; private set; }
    public string RootDirectory { get; }
    public MosquittoServerOptions Options { get; }

    /// <summary>Password of <see cref="AdminUser"/>, who may read and write every topic.</summary>
    public string AdminPassword { get; }

    public string ConfigFile => Path.Combine(RootDirectory, "mosquitto.conf");
    public string PasswordFile => Options.ExternalPasswordFile ?? Path.Combine(RootDirectory, "passwd");
    public string AclFile => Options.ExternalAclFile ?? Path.Combine(RootDirectory, "acl");
    public string LogFile => Path.Combine(RootDirectory, "mosquitto.log");
    public string CertificateFile => Path.Combine(RootDirectory, "tls.crt");
    public string KeyFile => Path.Combine(RootDirectory, "tls.key");

    public bool IsRunning => _process is { HasExited: false };
    public int? ProcessId => _process is { HasExited: false } process ? process.Id : null;

    private static bool RunsAsRoot => Environment.IsPrivilegedProcess;

    /// <summary>Creates the folder, config, admin user and ACL, and starts the broker. Throws when Mosquitto is missing; never skips.</summary>
    public static async Task<MosquittoServer> StartAsync(MosquittoServerOptions? options = null, CancellationToken cancellationToken = default)
    {
        _ = MosquittoPath;
        _ = MosquittoPasswdPath;
        var root = Directory.CreateTempSubdirectory("fleet-mosquitto-").FullName;
        var server = new MosquittoServer(root, options ?? new MosquittoServerOptions());
        try
        {
            if (server.Options.ExternalPasswordFile is null)
            {
                await server.RunPasswdAsync(["-c", "-b", server.PasswordFile, AdminUser, server.AdminPassword], cancellationToken);
            }

            if (server.Options.ExternalAclFile is null)
            {
                await server.WriteAclAsync(server.Options.AclLines, cancellationToken);
            }

            if (server.Options.EnableTls)
            {
                await server.WriteCertificateAsync(cancellationToken);
            }

            await server.StartOnFreePortAsync(cancellationToken);
            return server;
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
    }

    /// <summary>Adds or updates a user; by default reloads the broker so the user can connect at once.</summary>
    public async Task AddUserAsync(string username, string password, bool reload = true, CancellationToken cancellationToken = default)
    {
        if (Options.ExternalPasswordFile is not null)
        {
            throw new InvalidOperationException("This server uses an external password file; change that file instead.");
        }

        await _fileLock.WaitAsync(cancellationToken);
        try
        {
            await RunPasswdAsync(["-b", PasswordFile, username, password], cancellationToken);
        }
        finally
        {
            _fileLock.Release();
        }

        if (reload)
        {
            await ReloadAsync(cancellationToken);
        }
    }

    /// <summary>Replaces the ACL (the admin entry is always kept first) and reloads.</summary>
    public async Task SetAclAsync(IEnumerable<string> lines, bool reload = true, CancellationToken cancellationToken = default)
    {
        if (Options.ExternalAclFile is not null)
        {
            throw new InvalidOperationException("This server uses an external ACL file; change that file instead.");
        }

        await WriteAclAsync(lines.ToArray(), cancellationToken);
        if (reload)
        {
            await ReloadAsync(cancellationToken);
        }
    }

    /// <summary>SIGHUP: Mosquitto rereads its password and ACL files. Waits briefly, as the reload is asynchronous.</summary>
    public async Task ReloadAsync(CancellationToken cancellationToken = default)
    {
        Signal("HUP");
        await Task.Delay(200, cancellationToken);
    }

    /// <summary>SIGSTOP: the broker stops answering while its sockets stay open, like a hung peer.</summary>
    public void Pause() => Signal("STOP");

    public void Resume() => Signal("CONT");

    /// <summary>SIGTERM and wait: Mosquitto saves its persistence file on the way out.</summary>
    public async Task StopAsync(CancellationToken cancellationToken = default)
    {
        if (_process is not { HasExited: false } process)
        {
            return;
        }

        Signal("CONT");
        Signal("TERM");
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(10));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill();
            await process.WaitForExitAsync(CancellationToken.None);
        }
    }

    /// <summary>SIGKILL: nothing is saved.</summary>
    public async Task KillAsync()
    {
        if (_process is not { HasExited: false } process)
        {
            return;
        }

        process.Kill();
        await process.WaitForExitAsync(CancellationToken.None);
    }

    /// <summary>Starts the broker again on the same port, with the same files (after <see cref="StopAsync"/> or <see cref="KillAsync"/>).</summary>
    public async Task StartAgainAsync(CancellationToken cancellationToken = default)
    {
        if (IsRunning)
        {
            throw new InvalidOperationException("Mosquitto is already running.");
        }

        await LaunchAsync(cancellationToken);
    }

    public async Task RestartAsync(CancellationToken cancellationToken = default)
    {
        await StopAsync(cancellationToken);
        await StartAgainAsync(cancellationToken);
    }

    public string ReadLog()
    {
        try
        {
            using var stream = new FileStream(LogFile, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            using var reader = new StreamReader(stream);
            return reader.ReadToEnd();
        }
        catch (FileNotFoundException)
        {
            return "";
        }
    }

    /// <summary>Arguments that point mosquitto_pub/mosquitto_sub at this broker as <paramref name="username"/> (admin by default).</summary>
    public IReadOnlyList<string> ClientArguments(string? username = null, string? password = null) =>
        ["-h", Host, "-p", Port.ToString(CultureInfo.InvariantCulture), "-u", username ?? AdminUser, "-P", password ?? AdminPassword];

    /// <summary>Runs mosquitto_pub with <see cref="ClientArguments"/> plus <paramref name="arguments"/> and checks it succeeded.</summary>
    public async Task<MosquittoToolResult> PublishWithMosquittoPubAsync(IReadOnlyList<string> arguments, CancellationToken cancellationToken = default)
    {
        var result = await MosquittoProcessRunner.RunAsync(MosquittoPubPath, [.. ClientArguments(), .. arguments], TimeSpan.FromSeconds(30), cancellationToken);
        if (result.ExitCode != 0)
        {
            throw new InvalidOperationException($"mosquitto_pub failed ({result.ExitCode}): {result.StandardOutput}{result.StandardError}");
        }

        return result;
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        AppDomain.CurrentDomain.ProcessExit -= OnProcessExit;
        try
        {
            await StopAsync();
        }
        catch (InvalidOperationException)
        {
            // Already reaped.
        }

        _process?.Dispose();
        TlsCertificate?.Dispose();
        _fileLock.Dispose();
        if (Environment.GetEnvironmentVariable("FLEET_KEEP_TEST_DIRS") == "1")
        {
            return;
        }

        try
        {
            Directory.Delete(RootDirectory, recursive: true);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
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
        }
    }

    private async Task StartOnFreePortAsync(CancellationToken cancellationToken)
    {
        for (var attempt = 1; ; attempt++)
        {
            Port = FindFreePort();
            TlsPort = Options.EnableTls ? FindFreePort() : 0;
            await WriteConfigAsync(cancellationToken);
            try
            {
                await LaunchAsync(cancellationToken);
                return;
            }
            catch (InvalidOperationException) when (attempt < StartAttempts)
            {
                // Someone took the port between our probe and Mosquitto's bind; try another.
            }
        }
    }

    private async Task WriteConfigAsync(CancellationToken cancellationToken)
    {
        string[] lines =
        [
            "per_listener_settings false",
            $"listener {Port} {Host}",
            "allow_anonymous false",
            $"password_file {PasswordFile}",
            $"acl_file {AclFile}",
            "persistence true",
            $"persistence_location {RootDirectory}/",
            $"max_inflight_messages {Options.MaxInflightMessages}",
            $"max_queued_messages {Options.MaxQueuedMessages}",
            "max_queued_bytes 0",
            $"log_dest file {LogFile}",
            "log_type error",
            "log_type warning",
            "log_type notice",
            "log_type information",
            "connection_messages true",
            "log_timestamp_format %H:%M:%S",
            .. Options.ExtraConfig,
            .. (Options.EnableTls
                ? new[] { $"listener {TlsPort} {Host}", $"certfile {CertificateFile}", $"keyfile {KeyFile}" }
                : []),
        ];
        await File.WriteAllTextAsync(ConfigFile, string.Join('\n', lines) + "\n", cancellationToken);
        await GiveToMosquittoUserAsync(cancellationToken);
    }

    private async Task WriteAclAsync(IReadOnlyList<string> lines, CancellationToken cancellationToken)
    {
        await _fileLock.WaitAsync(cancellationToken);
        try
        {
            // Pattern lines apply to everyone; they go first, before any "user" section begins.
            var patterns = lines.Where(l => l.TrimStart().StartsWith("pattern", StringComparison.Ordinal));
            var rest = lines.Where(l => !l.TrimStart().StartsWith("pattern", StringComparison.Ordinal));
            string[] content =
            [
                .. patterns,
                "",
                $"user {AdminUser}",
                "topic readwrite #",
                "topic readwrite $share/#",
                "topic read $SYS/#",
                "",
                .. rest,
            ];
            await File.WriteAllTextAsync(AclFile, string.Join('\n', content) + "\n", cancellationToken);
            await GiveToMosquittoUserAsync(cancellationToken);
        }
        finally
        {
            _fileLock.Release();
        }
    }

    private async Task WriteCertificateAsync(CancellationToken cancellationToken)
    {
        using var key = RSA.Create(2048);
        var request = new CertificateRequest("CN=localhost", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        var names = new SubjectAlternativeNameBuilder();
        names.AddDnsName("localhost");
        names.AddIpAddress(IPAddress.Loopback);
        request.CertificateExtensions.Add(names.Build());
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
        await File.WriteAllTextAsync(CertificateFile, certificate.ExportCertificatePem(), cancellationToken);
        await File.WriteAllTextAsync(KeyFile, key.ExportPkcs8PrivateKeyPem(), cancellationToken);
        TlsCertificate = X509CertificateLoader.LoadCertificate(certificate.RawData);
        await GiveToMosquittoUserAsync(cancellationToken);
    }

    private async Task LaunchAsync(CancellationToken cancellationToken)
    {
        var startInfo = new ProcessStartInfo(MosquittoPath)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        startInfo.ArgumentList.Add("-c");
        startInfo.ArgumentList.Add(ConfigFile);
        var process = new Process { StartInfo = startInfo };
        DataReceivedEventHandler collect = (_, e) =>
        {
            if (e.Data is not null)
            {
                lock (_processOutput)
                {
                    _processOutput.AppendLine(e.Data);
                }
            }
        };
        process.OutputDataReceived += collect;
        process.ErrorDataReceived += collect;
        if (!process.Start())
        {
            throw new InvalidOperationException($"Could not start {MosquittoPath}");
        }

        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        _process?.Dispose();
        _process = process;

        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < TimeSpan.FromSeconds(15))
        {
            if (process.HasExited)
            {
                string output;
                lock (_processOutput)
                {
                    output = _processOutput.ToString();
                }

                throw new InvalidOperationException($"Mosquitto exited with code {process.ExitCode} on port {Port}: {output}\n--- {LogFile} ---\n{ReadLog()}");
            }

            if (await AcceptsConnectionsAsync(Port, cancellationToken))
            {
                return;
            }

            await Task.Delay(20, cancellationToken);
        }

        process.Kill();
        await process.WaitForExitAsync(CancellationToken.None);
        throw new TimeoutException($"Mosquitto did not accept connections on {Host}:{Port} within 15 s.\n--- {LogFile} ---\n{ReadLog()}");
    }

    private static async Task<bool> AcceptsConnectionsAsync(int port, CancellationToken cancellationToken)
    {
        using var client = new TcpClient();
        try
        {
            await client.ConnectAsync(IPAddress.Loopback, port, cancellationToken);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    private static int FindFreePort()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        try
        {
            return ((IPEndPoint)listener.LocalEndpoint).Port;
        }
        finally
        {
            listener.Stop();
        }
    }

    private async Task RunPasswdAsync(IReadOnlyList<string> arguments, CancellationToken cancellationToken)
    {
        var result = await MosquittoProcessRunner.RunAsync(MosquittoPasswdPath, arguments, TimeSpan.FromSeconds(30), cancellationToken);
        if (result.ExitCode != 0)
        {
            throw new InvalidOperationException($"mosquitto_passwd failed ({result.ExitCode}): {result.StandardOutput}{result.StandardError}");
        }

        await GiveToMosquittoUserAsync(cancellationToken);
    }

    /// <summary>
    /// Mosquitto started as root drops to the mosquitto user, which must then read the password and ACL files and write
    /// the log and persistence files. mosquitto_passwd rewrites its file as root, so this runs after every change.
    /// </summary>
    private async Task GiveToMosquittoUserAsync(CancellationToken cancellationToken)
    {
        if (!RunsAsRoot)
        {
            return;
        }

        var result = await MosquittoProcessRunner.RunAsync("chown", ["-R", "mosquitto:mosquitto", RootDirectory], TimeSpan.FromSeconds(30), cancellationToken);
        if (result.ExitCode != 0)
        {
            throw new InvalidOperationException($"chown of {RootDirectory} to the mosquitto user failed: {result.StandardError}");
        }
    }

    /// <summary>.NET can only SIGKILL a process, so other signals go through kill(1).</summary>
    private void Signal(string signal)
    {
        if (_process is not { HasExited: false } process)
        {
            return;
        }

        var startInfo = new ProcessStartInfo("kill") { UseShellExecute = false, RedirectStandardError = true };
        startInfo.ArgumentList.Add("-s");
        startInfo.ArgumentList.Add(signal);
        startInfo.ArgumentList.Add(process.Id.ToString(CultureInfo.InvariantCulture));
        using var kill = Process.Start(startInfo) ?? throw new InvalidOperationException("Could not start kill");
        var error = kill.StandardError.ReadToEnd();
        kill.WaitForExit();
        if (kill.ExitCode != 0 && !process.HasExited)
        {
            throw new InvalidOperationException($"kill -s {signal} {process.Id} failed: {error}");
        }
    }

    private static string FindExecutable(IReadOnlyList<string> candidates, string name)
    {
        foreach (var candidate in candidates)
        {
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        foreach (var directory in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries))
        {
            var path = Path.Combine(directory, name);
            if (File.Exists(path))
            {
                return path;
            }
        }

        throw new InvalidOperationException($"{NotInstalledMessage} ({name} is missing)");
    }
}
