using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace Fleet.Silo.Registry;

/// <summary>
/// DEMO ONLY. Derives the demo passwords from the seed, so re-seeding with the same seed gives the same logins and
/// terminal credentials (and a simulator can recompute a terminal's password from its id). Anyone who knows the seed
/// knows every password: real terminals and users get random secrets, never these.
/// </summary>
internal sealed class DemoSecrets
{
    // 32 symbols (no l, o, 0, 1: easy to read aloud), so a byte maps to one without bias.
    private const string Alphabet = "abcdefghijkmnpqrstuvwxyz23456789";

    private readonly byte[] _key;

    public DemoSecrets(int seed)
    {
        Span<byte> seedBytes = stackalloc byte[4];
        BinaryPrimitives.WriteInt32LittleEndian(seedBytes, seed);
        _key = HMACSHA256.HashData(Encoding.ASCII.GetBytes("fleet-demo-credentials-v1"), seedBytes);
    }

    /// <summary>20 symbols, 100 bits.</summary>
    public string TerminalPassword(string terminalId) => Derive("terminal:" + terminalId, 20);

    /// <summary>Also meets ASP.NET Core Identity's default policy (upper, lower, digit, symbol, length ≥ 6).</summary>
    public string UserPassword(string username) => "Demo1-" + Derive("user:" + username, 12);

    private string Derive(string purpose, int length)
    {
        var mac = HMACSHA256.HashData(_key, Encoding.UTF8.GetBytes(purpose));
        return string.Create(length, mac, static (chars, bytes) =>
        {
            for (var i = 0; i < chars.Length; i++)
            {
                chars[i] = Alphabet[bytes[i] & 31];
            }
        });
    }
}
