using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Fleet.TestSupport;
using Fleet.Web.Auth;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Identity;
using Microsoft.Extensions.Configuration;

namespace Fleet.Web.Tests.Security;

/// <summary>
/// The session cookie over HTTPS (the plain-HTTP flags are in AuthTests) and how passwords are stored. Fleet has no
/// forwarded-headers middleware, so "served over HTTPS" means Kestrel's own TLS: the host here listens with a
/// throwaway self-signed certificate.
/// </summary>
public sealed class SessionCookieTests(PostgresFixture postgres)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact(Timeout = 90_000)]
    public async Task Over_https_the_session_cookie_is_Secure_HttpOnly_and_SameSite()
    {
        var db = await postgres.CreateDatabaseAsync(cancellationToken: Ct);
        using var certificate = SelfSigned();
        var app = FleetHost.Build(
            new Dictionary<string, string?> { ["Fleet:Database:ConnectionString"] = db.ConnectionString },
            builder => builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0, listen => listen.UseHttps(certificate))));
        await using var _ = app;
        await app.StartAsync(Ct);
        try
        {
            var passwords = await SeededFleet.SeedAsync(db, Ct);
            var address = new Uri(Assert.Single(app.Urls));
            Assert.Equal("https", address.Scheme);
            using var client = new HttpClient(new HttpClientHandler
            {
                UseCookies = false,
                // The test's own certificate, made above; nothing else is trusted this way.
                ServerCertificateCustomValidationCallback = (_, cert, _, _) => cert?.Thumbprint == certificate.Thumbprint,
            })
            { BaseAddress = address };

            using var login = await client.PostAsJsonAsync("/api/auth/login", new { username = "admin", password = passwords["admin"] }, Ct);

            Assert.Equal(HttpStatusCode.OK, login.StatusCode);
            var cookie = Assert.Single(login.Headers.GetValues("Set-Cookie"), c => c.StartsWith(AuthApi.CookieName + "=", StringComparison.Ordinal));
            var flags = cookie.Split(';').Skip(1).Select(f => f.Trim().ToLowerInvariant()).ToList();
            Assert.Contains("secure", flags);
            Assert.Contains("httponly", flags);
            Assert.Contains("samesite=lax", flags);
            Assert.Contains("path=/", flags);
        }
        finally
        {
            await app.StopAsync(Ct);
        }
    }

    [Fact(Timeout = 60_000)]
    public async Task Stored_passwords_are_PasswordHasher_v3_hashes_that_verify_and_never_the_password()
    {
        await using var db = await postgres.CreateDatabaseAsync(cancellationToken: Ct);
        await using var app = FleetHost.Build(new Dictionary<string, string?> { ["Fleet:Database:ConnectionString"] = db.ConnectionString });
        await app.StartAsync(Ct);
        var passwords = await SeededFleet.SeedAsync(db, Ct);
        await app.StopAsync(Ct);
        var hasher = new PasswordHasher<Account>();

        await using var command = db.CreateCommand("SELECT username, password_hash FROM users");
        await using var reader = await command.ExecuteReaderAsync(Ct);
        var checkedUsers = 0;
        while (await reader.ReadAsync(Ct))
        {
            var (username, hash) = (reader.GetString(0), reader.GetString(1));
            var bytes = Convert.FromBase64String(hash);
            // Identity v3 format: marker 0x01, then PRF (2 = HMAC-SHA512), iteration count, salt length, big-endian.
            Assert.Equal(0x01, bytes[0]);
            Assert.Equal(2u, ReadUInt32(bytes, 1));
            Assert.True(ReadUInt32(bytes, 5) >= 100_000, $"{username}: {ReadUInt32(bytes, 5)} iterations");
            Assert.DoesNotContain(passwords[username], hash, StringComparison.Ordinal);
            Assert.Equal(PasswordVerificationResult.Success, hasher.VerifyHashedPassword(null!, hash, passwords[username]));
            Assert.Equal(PasswordVerificationResult.Failed, hasher.VerifyHashedPassword(null!, hash, passwords[username] + "x"));
            checkedUsers++;
        }

        Assert.Equal(passwords.Count, checkedUsers);
    }

    private static uint ReadUInt32(byte[] bytes, int offset) =>
        (uint)((bytes[offset] << 24) | (bytes[offset + 1] << 16) | (bytes[offset + 2] << 8) | bytes[offset + 3]);

    private static X509Certificate2 SelfSigned()
    {
        using var key = RSA.Create(2048);
        var request = new CertificateRequest("CN=localhost", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        var san = new SubjectAlternativeNameBuilder();
        san.AddIpAddress(IPAddress.Loopback);
        request.CertificateExtensions.Add(san.Build());
        using var made = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddHours(1));
        // Exported and re-imported so Kestrel gets a certificate with a usable private key on every platform.
        return X509CertificateLoader.LoadPkcs12(made.Export(X509ContentType.Pkcs12), null);
    }
}
