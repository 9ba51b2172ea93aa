using Microsoft.AspNetCore.Identity;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Fleet.Web.Auth;

/// <summary>A row of <c>users</c> as the login needs it.</summary>
public sealed record Account(
    int Id,
    string Username,
    string DisplayName,
    string PasswordHash,
    string Role,
    int? DepartmentId,
    int? RegionId,
    string Locale,
    bool Enabled);

/// <summary>What a login attempt came to.</summary>
public abstract record LoginOutcome
{
    private LoginOutcome()
    {
    }

    public sealed record Succeeded(Account Account) : LoginOutcome;

    /// <summary>Unknown user or wrong password: deliberately indistinguishable to the caller.</summary>
    public sealed record InvalidCredentials : LoginOutcome;

    /// <param name="JustLocked">This attempt was the one that locked the account (not an attempt while locked).</param>
    public sealed record LockedOut(DateTimeOffset Until, bool JustLocked = false) : LoginOutcome;

    /// <summary>Right password, but the account is disabled.</summary>
    public sealed record Disabled : LoginOutcome;
}

/// <summary>
/// Verifies logins against <c>users</c> (ASP.NET Core Identity v3 hashes), counts consecutive failures and locks the
/// account after <see cref="FleetAuthOptions.MaxFailedLogins"/>. Lockout times come from the injected
/// <see cref="TimeProvider"/>, not the database clock, so tests can move time.
/// </summary>
public sealed partial class AccountStore(
    NpgsqlDataSource dataSource,
    IPasswordHasher<Account> hasher,
    TimeProvider timeProvider,
    IOptions<FleetAuthOptions> options,
    ILogger<AccountStore> logger)
{
    private const string Columns = "id, username, display_name, password_hash, role, department_id, region_id, locale, enabled, locked_until";

    private static readonly Account Nobody = new(0, "", "", "", "", null, null, "", false);

    // Verified against when the user does not exist, so an unknown name costs the same ~100 ms as a wrong password
    // and response times do not reveal which usernames exist.
    private readonly Lazy<string> _dummyHash = new(() => hasher.HashPassword(Nobody, Guid.NewGuid().ToString("N")));

    public async Task<LoginOutcome> LoginAsync(string username, string password, CancellationToken ct)
    {
        var now = timeProvider.GetUtcNow();
        var found = await FindAsync(username, ct);
        if (found is not { } row)
        {
            hasher.VerifyHashedPassword(Nobody, _dummyHash.Value, password);
            LogUnknownUser(logger, username);
            return new LoginOutcome.InvalidCredentials();
        }

        var (account, lockedUntil) = row;
        if (lockedUntil is { } until && until > now)
        {
            LogLockedAttempt(logger, account.Username, until);
            return new LoginOutcome.LockedOut(until);
        }

        var verification = hasher.VerifyHashedPassword(account, account.PasswordHash, password);
        if (verification == PasswordVerificationResult.Failed)
        {
            var (failures, newLock) = await RecordFailureAsync(account.Id, now, ct);
            if (newLock is { } locked && locked > now)
            {
                LogLockedOut(logger, account.Username, failures, locked);
                return new LoginOutcome.LockedOut(locked, JustLocked: true);
            }

            LogWrongPassword(logger, account.Username, failures);
            return new LoginOutcome.InvalidCredentials();
        }

        if (!account.Enabled)
        {
            LogDisabled(logger, account.Username);
            return new LoginOutcome.Disabled();
        }

        // The iteration count or algorithm has moved on since the hash was made: store a fresh one now that the
        // plaintext is at hand.
        var rehash = verification == PasswordVerificationResult.SuccessRehashNeeded ? hasher.HashPassword(account, password) : null;
        await RecordSuccessAsync(account.Id, rehash, ct);
        LogSignedIn(logger, account.Username, account.Role, rehash is not null);
        return new LoginOutcome.Succeeded(account);
    }

    /// <summary>
    /// Whether a session issued for this user still stands: the account exists, is enabled, and has the role and
    /// department the session was issued with. Checked on every request, so disabling a user or changing their role
    /// takes effect at once rather than when the cookie expires.
    /// </summary>
    public Task<bool> IsSessionCurrentAsync(UserScope scope, CancellationToken ct) => IsSessionCurrentAsync(scope, null, ct);

    /// <summary>
    /// As above, and when <paramref name="issuedAt"/> is known, the password has not been reset since the session was
    /// issued: a reset (say, of a password that leaked) ends the sessions made with the old one. The cookie keeps its
    /// issue time to the second, hence the second of slack.
    /// </summary>
    public async Task<bool> IsSessionCurrentAsync(UserScope scope, DateTimeOffset? issuedAt, CancellationToken ct)
    {
        await using var command = dataSource.CreateCommand("SELECT enabled, role, department_id, password_changed_at FROM users WHERE id = $1");
        command.Parameters.Add(new NpgsqlParameter { Value = scope.UserId });
        await using var reader = await command.ExecuteReaderAsync(ct);
        return await reader.ReadAsync(ct)
            && reader.GetBoolean(0)
            && reader.GetString(1) == scope.Role
            && (reader.IsDBNull(2) ? null : (int?)reader.GetInt32(2)) == scope.DepartmentId
            && (issuedAt is not { } issued || reader.IsDBNull(3) || reader.GetFieldValue<DateTimeOffset>(3) <= issued.AddSeconds(1));
    }

    private async Task<(Account Account, DateTimeOffset? LockedUntil)?> FindAsync(string username, CancellationToken ct)
    {
        await using var command = dataSource.CreateCommand($"SELECT {Columns} FROM users WHERE username = $1");
        command.Parameters.Add(new NpgsqlParameter { Value = username });
        await using var reader = await command.ExecuteReaderAsync(ct);
        if (!await reader.ReadAsync(ct))
        {
            return null;
        }

        var account = new Account(
            reader.GetInt32(0),
            reader.GetString(1),
            reader.GetString(2),
            reader.GetString(3),
            reader.GetString(4),
            reader.IsDBNull(5) ? null : reader.GetInt32(5),
            reader.IsDBNull(6) ? null : reader.GetInt32(6),
            reader.GetString(7),
            reader.GetBoolean(8));
        return (account, reader.IsDBNull(9) ? null : reader.GetFieldValue<DateTimeOffset>(9));
    }

    private async Task<(int Failures, DateTimeOffset? LockedUntil)> RecordFailureAsync(int userId, DateTimeOffset now, CancellationToken ct)
    {
        // One statement, so concurrent failures are all counted (the row is re-read under its lock). An expired lock
        // starts a fresh count; reaching the limit locks until now + lockout.
        await using var command = dataSource.CreateCommand(
            """
            UPDATE users SET
                failed_logins = CASE WHEN locked_until <= $2 THEN 1 ELSE failed_logins + 1 END,
                locked_until = CASE
                    WHEN (CASE WHEN locked_until <= $2 THEN 1 ELSE failed_logins + 1 END) >= $3 THEN $4
                    WHEN locked_until <= $2 THEN NULL
                    ELSE locked_until END
            WHERE id = $1
            RETURNING failed_logins, locked_until
            """);
        command.Parameters.Add(new NpgsqlParameter { Value = userId });
        command.Parameters.Add(new NpgsqlParameter { Value = now });
        command.Parameters.Add(new NpgsqlParameter { Value = options.Value.MaxFailedLogins });
        command.Parameters.Add(new NpgsqlParameter { Value = now.AddMinutes(options.Value.LockoutMinutes) });
        await using var reader = await command.ExecuteReaderAsync(ct);
        await reader.ReadAsync(ct);
        return (reader.GetInt32(0), reader.IsDBNull(1) ? null : reader.GetFieldValue<DateTimeOffset>(1));
    }

    private async Task RecordSuccessAsync(int userId, string? newHash, CancellationToken ct)
    {
        await using var command = dataSource.CreateCommand(
            "UPDATE users SET failed_logins = 0, locked_until = NULL, password_hash = coalesce($2, password_hash) WHERE id = $1");
        command.Parameters.Add(new NpgsqlParameter { Value = userId });
        command.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text, Value = (object?)newHash ?? DBNull.Value });
        await command.ExecuteNonQueryAsync(ct);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "User {Username} ({Role}) signed in; password rehashed: {Rehashed}")]
    private static partial void LogSignedIn(ILogger logger, string username, string role, bool rehashed);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Sign-in failed for unknown user {Username}")]
    private static partial void LogUnknownUser(ILogger logger, string username);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Sign-in failed for {Username}: wrong password ({Failures} in a row)")]
    private static partial void LogWrongPassword(ILogger logger, string username, int failures);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Account {Username} locked until {Until} after {Failures} wrong passwords")]
    private static partial void LogLockedOut(ILogger logger, string username, int failures, DateTimeOffset until);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Sign-in refused for {Username}: locked until {Until}")]
    private static partial void LogLockedAttempt(ILogger logger, string username, DateTimeOffset until);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Sign-in refused for {Username}: the account is disabled")]
    private static partial void LogDisabled(ILogger logger, string username);
}
