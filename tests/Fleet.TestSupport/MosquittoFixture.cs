using Xunit;

namespace Fleet.TestSupport;

/// <summary>
/// One Mosquitto for a whole test assembly: register with <c>[assembly: AssemblyFixture(typeof(MosquittoFixture))]</c>
/// and take it in the test class constructor. Tests isolate themselves with unique client ids, topics and users;
/// a test that needs its own ACL or a restart starts its own <see cref="MosquittoServer"/>.
/// </summary>
public sealed class MosquittoFixture : IAsyncLifetime
{
    private MosquittoServer? _server;
    private int _counter;

    public MosquittoServer Server => _server ?? throw new InvalidOperationException("MosquittoFixture is not initialised");

    public static string Host => MosquittoServer.Host;
    public int Port => Server.Port;
    public static string AdminUser => MosquittoServer.AdminUser;
    public string AdminPassword => Server.AdminPassword;

    public async ValueTask InitializeAsync()
    {
        _server = await MosquittoServer.StartAsync();
        TestContext.Current.SendDiagnosticMessage("Mosquitto on {0}:{1} in {2}", MosquittoServer.Host, _server.Port, _server.RootDirectory);
    }

    /// <summary>A name unique in this run, for client ids, topics and users.</summary>
    public string UniqueName(string prefix = "t") => $"{prefix}-{Interlocked.Increment(ref _counter)}-{Guid.NewGuid():N}"[..Math.Min(prefix.Length + 20, 40)];

    public async ValueTask DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
    }
}
