using System.Runtime.Versioning;
using System.Text.Json;
using Fleet.Silo.Registry;

namespace Fleet.Silo.Tests.Registry;

public sealed class DemoCredentialsFileTests : IDisposable
{
    private const int Timeout = 30_000;
    private const UnixFileMode OwnerReadWrite = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    private static readonly DemoSeedResult Result = new(
        false,
        new DemoSeedCounts(13, 4, 40, 2, 1, 2, 2),
        [new("admin", "Demo1-abc", "admin", null), new("manager1", "Demo1-def", "department_manager", "内蒙古自治区财政厅")],
        [new("T014500000001", "pw1", 1, "蒙A12345"), new("T014700000002", "pw2", 2, "蒙BD12345")],
        TimeSpan.FromSeconds(1));

    private readonly string _directory = Directory.CreateTempSubdirectory("fleet-credentials-").FullName;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact(Timeout = Timeout)]
    public async Task The_file_holds_the_demo_notice_the_users_and_the_terminals()
    {
        var path = Path.Combine(_directory, "demo-credentials.json");

        await DemoCredentialsFile.WriteAsync(path, Result, Ct);

        using var json = JsonDocument.Parse(await File.ReadAllTextAsync(path, Ct));
        var root = json.RootElement;
        Assert.StartsWith("DEMO ONLY", root.GetProperty("notice").GetString(), StringComparison.Ordinal);
        Assert.Contains("演示", root.GetProperty("noticeZh").GetString(), StringComparison.Ordinal);
        var users = root.GetProperty("users").EnumerateArray().ToList();
        Assert.Equal(["admin", "manager1"], users.Select(u => u.GetProperty("username").GetString()));
        Assert.Equal("Demo1-def", users[1].GetProperty("password").GetString());
        Assert.Equal("department_manager", users[1].GetProperty("role").GetString());
        Assert.Equal("内蒙古自治区财政厅", users[1].GetProperty("department").GetString());
        Assert.Equal(JsonValueKind.Null, users[0].GetProperty("department").ValueKind);
        var terminal = root.GetProperty("terminals").EnumerateArray().Last();
        Assert.Equal("T014700000002", terminal.GetProperty("terminalId").GetString());
        Assert.Equal("pw2", terminal.GetProperty("password").GetString());
        Assert.Equal(2, terminal.GetProperty("vehicleId").GetInt64());
        Assert.Equal("蒙BD12345", terminal.GetProperty("plate").GetString());
        // Chinese stays readable in the file rather than \u-escaped.
        Assert.Contains("内蒙古自治区财政厅", await File.ReadAllTextAsync(path, Ct), StringComparison.Ordinal);
    }

    [Fact(Timeout = Timeout)]
    [UnsupportedOSPlatform("windows")]
    public async Task The_file_is_readable_only_by_its_owner_even_when_it_replaces_a_world_readable_one()
    {
        Assert.SkipWhen(OperatingSystem.IsWindows(), "Unix file modes");
        var path = Path.Combine(_directory, "nested", "demo-credentials.json");
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        await File.WriteAllTextAsync(path, "old", Ct);
        File.SetUnixFileMode(path, OwnerReadWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);

        await DemoCredentialsFile.WriteAsync(path, Result, Ct);

        Assert.Equal(OwnerReadWrite, File.GetUnixFileMode(path));
        Assert.StartsWith("{", await File.ReadAllTextAsync(path, Ct), StringComparison.Ordinal);
        Assert.Equal(["demo-credentials.json"], Directory.GetFiles(Path.GetDirectoryName(path)!).Select(Path.GetFileName));
    }
}
