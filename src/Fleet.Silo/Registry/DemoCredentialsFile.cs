using System.Text.Encodings.Web;
using System.Text.Json;

namespace Fleet.Silo.Registry;

/// <summary>
/// Writes the demo logins and terminal credentials to a JSON file readable only by its owner (mode 600 on Unix),
/// so <c>./fleet up</c> can print the logins and the simulator can connect its terminals.
/// </summary>
public static class DemoCredentialsFile
{
    public const string Notice = "DEMO ONLY — these credentials are for the local demo; never use them in production";
    public const string NoticeZh = "仅供演示 — 以下账号和终端凭据只用于本地演示环境，切勿用于生产环境";

    private static readonly JsonWriterOptions WriterOptions = new()
    {
        Indented = true,
        // Keeps the Chinese department names readable in the file; it is never embedded in HTML.
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    public static async Task WriteAsync(string path, DemoSeedResult result, CancellationToken ct)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(result);

        var fullPath = Path.GetFullPath(path);
        var directory = Path.GetDirectoryName(fullPath)!;
        Directory.CreateDirectory(directory);

        // Written next to the target and renamed over it: a reader never sees half a file, and the file is created
        // with mode 600 from the start instead of being readable until a chmod.
        var temporary = Path.Combine(directory, $".{Path.GetFileName(fullPath)}.{Guid.NewGuid():N}.tmp");
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, Options = FileOptions.Asynchronous };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        try
        {
            await using (var stream = new FileStream(temporary, options))
            {
                await using var writer = new Utf8JsonWriter(stream, WriterOptions);
                await WriteAsync(writer, result, ct);
            }

            File.Move(temporary, fullPath, overwrite: true);
        }
        catch
        {
            File.Delete(temporary);
            throw;
        }

        if (!OperatingSystem.IsWindows())
        {
            // UnixCreateMode is filtered by the umask; make sure it is exactly 600.
            File.SetUnixFileMode(fullPath, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }
    }

    private static async Task WriteAsync(Utf8JsonWriter writer, DemoSeedResult result, CancellationToken ct)
    {
        writer.WriteStartObject();
        writer.WriteString("notice", Notice);
        writer.WriteString("noticeZh", NoticeZh);

        writer.WriteStartArray("users");
        foreach (var user in result.Users)
        {
            writer.WriteStartObject();
            writer.WriteString("username", user.Username);
            writer.WriteString("password", user.Password);
            writer.WriteString("role", user.Role);
            writer.WriteString("department", user.Department);
            writer.WriteEndObject();
        }

        writer.WriteEndArray();

        writer.WriteStartArray("terminals");
        foreach (var terminal in result.Terminals)
        {
            writer.WriteStartObject();
            writer.WriteString("terminalId", terminal.TerminalId);
            writer.WriteString("password", terminal.Password);
            writer.WriteNumber("vehicleId", terminal.VehicleId);
            writer.WriteString("plate", terminal.Plate);
            writer.WriteEndObject();
            if (writer.BytesPending > 64 * 1024)
            {
                // 100k terminals make ~10 MB: stream it out rather than buffer it all.
                await writer.FlushAsync(ct);
            }
        }

        writer.WriteEndArray();
        writer.WriteEndObject();
        await writer.FlushAsync(ct);
    }
}
