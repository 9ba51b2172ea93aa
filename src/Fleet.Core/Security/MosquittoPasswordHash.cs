using System.Globalization;
using System.Security.Cryptography;

namespace Fleet.Core.Security;

/// <summary>
/// Mosquitto 2.0's password-file hash, PBKDF2-HMAC-SHA512: <c>$7$&lt;iterations&gt;$&lt;base64 salt&gt;$&lt;base64 hash&gt;</c>,
/// the value after <c>username:</c> in a file written by <c>mosquitto_passwd</c>. Terminals' hashes are stored in this
/// form so the broker's password file can be generated from the database without a plaintext ever being stored.
/// </summary>
public static class MosquittoPasswordHash
{
    /// <summary>What mosquitto_passwd 2.0 uses. Low, but the broker dictates it, and terminal secrets are random.</summary>
    public const int Iterations = 101;

    public const int SaltSize = 12;

    public const int HashSize = 64;

    private const string Prefix = "$7$";

    // Bounds what Verify will compute, so a crafted hash cannot make one check take seconds.
    private const int MaxIterations = 1_000_000;
    private const int MaxEncodedLength = 1024;

    /// <summary>Hashes <paramref name="password"/> with a fresh random salt.</summary>
    public static string Create(string password)
    {
        ArgumentNullException.ThrowIfNull(password);
        Span<byte> salt = stackalloc byte[SaltSize];
        RandomNumberGenerator.Fill(salt);
        Span<byte> hash = stackalloc byte[HashSize];
        Rfc2898DeriveBytes.Pbkdf2(password, salt, hash, Iterations, HashAlgorithmName.SHA512);
        return string.Create(CultureInfo.InvariantCulture, $"{Prefix}{Iterations}${Convert.ToBase64String(salt)}${Convert.ToBase64String(hash)}");
    }

    /// <summary>
    /// True when <paramref name="password"/> matches <paramref name="hash"/>. A malformed hash is a mismatch, not an error.
    /// </summary>
    public static bool Verify(string password, string hash)
    {
        if (password is null || hash is null || hash.Length > MaxEncodedLength || !hash.StartsWith(Prefix, StringComparison.Ordinal))
        {
            return false;
        }

        var parts = hash[Prefix.Length..].Split('$');
        if (parts.Length != 3
            || !int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var iterations)
            || iterations is < 1 or > MaxIterations)
        {
            return false;
        }

        var salt = DecodeBase64(parts[1]);
        var expected = DecodeBase64(parts[2]);
        if (salt is null || expected is null || salt.Length == 0 || expected.Length == 0)
        {
            return false;
        }

        var actual = Rfc2898DeriveBytes.Pbkdf2(password, salt, iterations, HashAlgorithmName.SHA512, expected.Length);
        return CryptographicOperations.FixedTimeEquals(actual, expected);
    }

    private static byte[]? DecodeBase64(string text)
    {
        var buffer = new byte[(text.Length * 3 / 4) + 3];
        return Convert.TryFromBase64String(text, buffer, out var written) ? buffer[..written] : null;
    }
}
