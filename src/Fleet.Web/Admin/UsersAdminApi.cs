using System.Globalization;
using System.Text.RegularExpressions;
using Fleet.Web.Api;
using Fleet.Web.Audit;
using Fleet.Web.Auth;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Identity;
using Npgsql;
using NpgsqlTypes;

namespace Fleet.Web.Admin;

/// <summary>A user as the administration pages show it. The password hash is never part of it.</summary>
public sealed record AdminUserItem(
    int Id,
    string Username,
    string DisplayName,
    string Role,
    int? DepartmentId,
    string? DepartmentName,
    int? RegionId,
    string Locale,
    bool Enabled,
    DateTimeOffset? LockedUntil,
    DateTimeOffset? PasswordChangedAt,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt);

/// <summary>
/// <c>/api/admin/users</c>: administrators create users, change their role, department, display name and whether they
/// may sign in, and reset passwords. Cookie sessions only: an API token cannot manage users. Every change is audited in
/// the transaction that makes it. A change of role, department or enabled takes effect on the user's next request
/// (AccountStore.IsSessionCurrentAsync ends sessions that no longer match).
/// </summary>
public static partial class UsersAdminApi
{
    private const string Columns =
        "u.id, u.username, u.display_name, u.role, u.department_id, d.name, u.region_id, u.locale, u.enabled, u.locked_until, u.password_changed_at, u.created_at, u.updated_at";

    private const string From = "users u LEFT JOIN departments d ON d.id = u.department_id";

    private static readonly string[] DepartmentRoles = [FleetRoles.DepartmentManager, FleetRoles.Driver, FleetRoles.Requester];
    private static readonly string[] Locales = ["zh-CN", "en"];
    private static readonly string[] CreateFields = ["username", "displayName", "password", "role", "departmentId", "regionId", "locale"];
    private static readonly string[] ChangeFields = ["displayName", "role", "departmentId", "enabled"];
    private static readonly string[] PasswordFields = ["password"];

    /// <summary>Admin role, over a cookie session only (the admin APIs are not for tokens).</summary>
    public static void RequireAdminSession(Microsoft.AspNetCore.Authorization.AuthorizationPolicyBuilder policy) =>
        policy.AddAuthenticationSchemes(CookieAuthenticationDefaults.AuthenticationScheme).RequireAuthenticatedUser().RequireRole(FleetRoles.Admin);

    public static IEndpointRouteBuilder MapUsersAdminApi(this IEndpointRouteBuilder endpoints)
    {
        var users = endpoints.MapGroup("/api/admin/users").RequireAuthorization(RequireAdminSession);
        users.MapGet("/", ListAsync);
        users.MapGet("/{id}", GetAsync);
        users.MapPost("/", CreateAsync);
        users.MapPatch("/{id}", ChangeAsync);
        users.MapPost("/{id}/password", ResetPasswordAsync);
        return endpoints;
    }

    private static async Task<IResult> ListAsync(
        NpgsqlDataSource db,
        string? q,
        string? role,
        string? departmentId,
        string? enabled,
        string? page,
        string? pageSize,
        CancellationToken ct)
    {
        var errors = new FieldErrors();
        var filter = new SqlFilter();
        if (errors.Text("q", q, 64) is { } text)
        {
            // strpos, not LIKE: the text is matched literally, % and _ included.
            var bound = filter.Bind(text.ToLowerInvariant());
            filter.Add($"(strpos(u.username, {bound}) > 0 OR strpos(lower(u.display_name), {bound}) > 0)");
        }

        if (!string.IsNullOrEmpty(role))
        {
            if (FleetRoles.All.Contains(role))
            {
                filter.Add($"u.role = {filter.Bind(role)}");
            }
            else
            {
                errors.Add("role", $"Must be one of: {string.Join(", ", FleetRoles.All)}.");
            }
        }

        if (errors.OptionalId("departmentId", departmentId) is { } department)
        {
            filter.Add($"u.department_id = {filter.Bind(department)}");
        }

        if (!string.IsNullOrEmpty(enabled))
        {
            if (bool.TryParse(enabled, out var isEnabled))
            {
                filter.Add($"u.enabled = {filter.Bind(isEnabled)}");
            }
            else
            {
                errors.Add("enabled", "Must be true or false.");
            }
        }

        var paging = errors.Paging(page, pageSize);
        if (errors.HasErrors)
        {
            return Problems.Validation(errors.Errors);
        }

        await using var connection = await db.OpenConnectionAsync(ct);
        var total = await filter.CountAsync(connection, From, ct);
        var items = new List<AdminUserItem>(Math.Min(paging.PageSize, 64));
        await using (var select = filter.PageCommand(connection, $"SELECT {Columns} FROM {From}", "u.username", paging))
        {
            await using var reader = await select.ExecuteReaderAsync(ct);
            while (await reader.ReadAsync(ct))
            {
                items.Add(ReadItem(reader));
            }
        }

        return TypedResults.Ok(new PagedResult<AdminUserItem>(items, paging.Page, paging.PageSize, total));
    }

    private static async Task<IResult> GetAsync(string id, NpgsqlDataSource db, CancellationToken ct)
    {
        if (ParseId(id) is not { } userId)
        {
            return UserNotFound(id);
        }

        await using var connection = await db.OpenConnectionAsync(ct);
        return await FindAsync(connection, null, userId, ct) is { } user ? TypedResults.Ok(user) : UserNotFound(id);
    }

    private static async Task<IResult> CreateAsync(
        HttpContext http,
        NpgsqlDataSource db,
        AuditLog audit,
        IPasswordHasher<Account> hasher,
        TimeProvider time,
        ILoggerFactory loggers,
        CancellationToken ct)
    {
        var errors = new FieldErrors();
        if (await JsonBody.ReadAsync(http.Request, errors, CreateFields, ct) is not { } body)
        {
            return Problems.Validation(errors.Errors);
        }

        var username = body.String("username", 64)?.ToLowerInvariant();
        if (username is null)
        {
            if (!errors.Errors.ContainsKey("username"))
            {
                errors.Add("username", "Required.");
            }
        }
        else if (!UsernamePattern().IsMatch(username))
        {
            errors.Add("username", "1 to 64 characters: lower-case letters, digits and _ . @ -, starting with a letter or digit.");
        }

        var displayName = RequiredText(body, errors, "displayName", 100);
        var password = body.String("password", PasswordPolicy.MaxLength, trim: false);
        if (!errors.Errors.ContainsKey("password") && PasswordPolicy.Check(password, username) is { } passwordProblem)
        {
            errors.Add("password", passwordProblem);
        }

        var role = RequiredRole(body, errors);

        var departmentId = body.Integer("departmentId", 1, int.MaxValue);
        var regionId = body.Integer("regionId", 1, int.MaxValue);
        var locale = body.Choice("locale", Locales) ?? "zh-CN";
        RequireDepartmentFor(role, departmentId, errors);

        if (errors.HasErrors)
        {
            return Problems.Validation(errors.Errors);
        }

        var hash = hasher.HashPassword(new Account(0, username!, displayName!, "", role!, departmentId, regionId, locale, true), password!);
        await using var connection = await db.OpenConnectionAsync(ct);
        await using var transaction = await connection.BeginTransactionAsync(ct);
        int id;
        try
        {
            // Without a region given, a department's user takes the department's region.
            await using var insert = new NpgsqlCommand(
                """
                INSERT INTO users (username, display_name, password_hash, role, department_id, region_id, locale, created_at, updated_at)
                VALUES ($1, $2, $3, $4, $5, coalesce($6, (SELECT region_id FROM departments WHERE id = $5)), $7, $8, $8)
                RETURNING id
                """,
                connection,
                transaction);
            insert.Parameters.Add(new NpgsqlParameter { Value = username! });
            insert.Parameters.Add(new NpgsqlParameter { Value = displayName! });
            insert.Parameters.Add(new NpgsqlParameter { Value = hash });
            insert.Parameters.Add(new NpgsqlParameter { Value = role! });
            insert.Parameters.Add(IntParameter(departmentId));
            insert.Parameters.Add(IntParameter(regionId));
            insert.Parameters.Add(new NpgsqlParameter { Value = locale });
            insert.Parameters.Add(new NpgsqlParameter { Value = time.GetUtcNow().ToUniversalTime() });
            id = (int)(await insert.ExecuteScalarAsync(ct))!;
        }
        catch (PostgresException ex) when (ex.SqlState is PostgresErrorCodes.UniqueViolation or PostgresErrorCodes.ForeignKeyViolation or PostgresErrorCodes.CheckViolation)
        {
            return ConstraintProblem(ex, username!);
        }

        await audit.WriteAsync(
            transaction,
            new AuditEntry(AuditActor.Of(http), AuditActions.UserCreated, AuditTargets.User, Text(id), new Dictionary<string, object?>
            {
                ["username"] = username,
                ["displayName"] = displayName,
                ["role"] = role,
                ["departmentId"] = departmentId,
            }),
            ct);
        var created = await FindAsync(connection, transaction, id, ct);
        await transaction.CommitAsync(ct);
        var logger = loggers.CreateLogger(typeof(UsersAdminApi));
        LogCreated(logger, username!, role!, http.User.Identity?.Name);
        return TypedResults.Created($"/api/admin/users/{id}", created);
    }

    private static async Task<IResult> ChangeAsync(string id, HttpContext http, NpgsqlDataSource db, AuditLog audit, ILoggerFactory loggers, CancellationToken ct)
    {
        if (ParseId(id) is not { } userId)
        {
            return UserNotFound(id);
        }

        var errors = new FieldErrors();
        if (await JsonBody.ReadAsync(http.Request, errors, ChangeFields, ct) is not { } body)
        {
            return Problems.Validation(errors.Errors);
        }

        var displayName = body.Has("displayName") ? RequiredText(body, errors, "displayName", 100) : null;
        var role = body.Choice("role", FleetRoles.All);
        if (body.Has("role") && role is null && !errors.Errors.ContainsKey("role"))
        {
            errors.Add("role", $"Must be one of: {string.Join(", ", FleetRoles.All)}.");
        }

        var setsDepartment = body.Has("departmentId");
        var departmentId = body.Integer("departmentId", 1, int.MaxValue);
        var enabled = body.Boolean("enabled");
        if (body.Has("enabled") && enabled is null && !errors.Errors.ContainsKey("enabled"))
        {
            errors.Add("enabled", "Must be true or false.");
        }

        if (errors.HasErrors)
        {
            return Problems.Validation(errors.Errors);
        }

        var actor = AuditActor.Of(http);
        await using var connection = await db.OpenConnectionAsync(ct);
        await using var transaction = await connection.BeginTransactionAsync(ct);
        if (await FindAsync(connection, transaction, userId, ct, forUpdate: true) is not { } before)
        {
            return UserNotFound(id);
        }

        var newRole = role ?? before.Role;
        var newDepartment = setsDepartment ? departmentId : before.DepartmentId;
        var newEnabled = enabled ?? before.Enabled;
        var newName = displayName ?? before.DisplayName;
        // An administrator who demoted or disabled themselves could lock everyone out of administration.
        if (actor.UserId == userId && (newRole != before.Role || !newEnabled))
        {
            return TypedResults.Problem(
                "You cannot change your own role or disable your own account; ask another administrator.",
                statusCode: StatusCodes.Status409Conflict,
                title: "不能修改自己的角色或停用自己");
        }

        if (DepartmentRoles.Contains(newRole) && newDepartment is null)
        {
            return Problems.Validation("departmentId", $"Required for the role {newRole}, which acts for one department.");
        }

        if (newRole == before.Role && newDepartment == before.DepartmentId && newEnabled == before.Enabled && newName == before.DisplayName)
        {
            return TypedResults.Ok(before);
        }

        try
        {
            await using var update = new NpgsqlCommand(
                "UPDATE users SET role = $2, department_id = $3, enabled = $4, display_name = $5 WHERE id = $1",
                connection,
                transaction);
            update.Parameters.Add(new NpgsqlParameter { Value = userId });
            update.Parameters.Add(new NpgsqlParameter { Value = newRole });
            update.Parameters.Add(IntParameter(newDepartment));
            update.Parameters.Add(new NpgsqlParameter { Value = newEnabled });
            update.Parameters.Add(new NpgsqlParameter { Value = newName });
            await update.ExecuteNonQueryAsync(ct);
        }
        catch (PostgresException ex) when (ex.SqlState is PostgresErrorCodes.ForeignKeyViolation or PostgresErrorCodes.CheckViolation)
        {
            return ConstraintProblem(ex, before.Username);
        }

        // One entry per kind of change, so the log can be filtered for role changes alone.
        var target = Text(userId);
        if (newRole != before.Role)
        {
            await audit.WriteAsync(transaction, Entry(actor, AuditActions.UserRoleChanged, target, before.Username, before.Role, newRole), ct);
        }

        if (newDepartment != before.DepartmentId)
        {
            await audit.WriteAsync(transaction, Entry(actor, AuditActions.UserDepartmentChanged, target, before.Username, before.DepartmentId, newDepartment), ct);
        }

        if (newName != before.DisplayName)
        {
            await audit.WriteAsync(transaction, Entry(actor, AuditActions.UserRenamed, target, before.Username, before.DisplayName, newName), ct);
        }

        if (newEnabled != before.Enabled)
        {
            await audit.WriteAsync(
                transaction,
                new AuditEntry(actor, newEnabled ? AuditActions.UserEnabled : AuditActions.UserDisabled, AuditTargets.User, target, new Dictionary<string, object?> { ["username"] = before.Username }),
                ct);
        }

        var after = await FindAsync(connection, transaction, userId, ct);
        await transaction.CommitAsync(ct);
        var logger = loggers.CreateLogger(typeof(UsersAdminApi));
        LogChanged(logger, before.Username, newRole, newDepartment, newEnabled, http.User.Identity?.Name);
        return TypedResults.Ok(after);
    }

    private static async Task<IResult> ResetPasswordAsync(
        string id,
        HttpContext http,
        NpgsqlDataSource db,
        AuditLog audit,
        IPasswordHasher<Account> hasher,
        TimeProvider time,
        ILoggerFactory loggers,
        CancellationToken ct)
    {
        if (ParseId(id) is not { } userId)
        {
            return UserNotFound(id);
        }

        var errors = new FieldErrors();
        if (await JsonBody.ReadAsync(http.Request, errors, PasswordFields, ct) is not { } body)
        {
            return Problems.Validation(errors.Errors);
        }

        var password = body.String("password", PasswordPolicy.MaxLength, trim: false);
        if (errors.HasErrors)
        {
            return Problems.Validation(errors.Errors);
        }

        await using var connection = await db.OpenConnectionAsync(ct);
        await using var transaction = await connection.BeginTransactionAsync(ct);
        if (await FindAsync(connection, transaction, userId, ct, forUpdate: true) is not { } user)
        {
            return UserNotFound(id);
        }

        if (PasswordPolicy.Check(password, user.Username) is { } problem)
        {
            return Problems.Validation("password", problem);
        }

        var hash = hasher.HashPassword(new Account(user.Id, user.Username, user.DisplayName, "", user.Role, user.DepartmentId, user.RegionId, user.Locale, user.Enabled), password!);
        // A reset also lifts a lockout: the administrator has just given the user a password that works.
        await using (var update = new NpgsqlCommand(
            "UPDATE users SET password_hash = $2, password_changed_at = $3, failed_logins = 0, locked_until = NULL WHERE id = $1",
            connection,
            transaction))
        {
            update.Parameters.Add(new NpgsqlParameter { Value = userId });
            update.Parameters.Add(new NpgsqlParameter { Value = hash });
            update.Parameters.Add(new NpgsqlParameter { Value = time.GetUtcNow().ToUniversalTime() });
            await update.ExecuteNonQueryAsync(ct);
        }

        await audit.WriteAsync(
            transaction,
            new AuditEntry(AuditActor.Of(http), AuditActions.UserPasswordReset, AuditTargets.User, Text(userId), new Dictionary<string, object?>
            {
                ["username"] = user.Username,
                ["wasLocked"] = user.LockedUntil is { } until && until > time.GetUtcNow(),
            }),
            ct);
        await transaction.CommitAsync(ct);
        var logger = loggers.CreateLogger(typeof(UsersAdminApi));
        LogPasswordReset(logger, user.Username, http.User.Identity?.Name);
        return TypedResults.NoContent();
    }

    private static AuditEntry Entry(AuditActor actor, string action, string target, string username, object? from, object? to) =>
        new(actor, action, AuditTargets.User, target, new Dictionary<string, object?> { ["username"] = username, ["from"] = from, ["to"] = to });

    private static async Task<AdminUserItem?> FindAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, int id, CancellationToken ct, bool forUpdate = false)
    {
        await using var command = new NpgsqlCommand($"SELECT {Columns} FROM {From} WHERE u.id = $1{(forUpdate ? " FOR UPDATE OF u" : "")}", connection, transaction);
        command.Parameters.Add(new NpgsqlParameter { Value = id });
        await using var reader = await command.ExecuteReaderAsync(ct);
        return await reader.ReadAsync(ct) ? ReadItem(reader) : null;
    }

    private static AdminUserItem ReadItem(NpgsqlDataReader reader) => new(
        reader.GetInt32(0),
        reader.GetString(1),
        reader.GetString(2),
        reader.GetString(3),
        reader.IsDBNull(4) ? null : reader.GetInt32(4),
        reader.IsDBNull(5) ? null : reader.GetString(5),
        reader.IsDBNull(6) ? null : reader.GetInt32(6),
        reader.GetString(7),
        reader.GetBoolean(8),
        reader.IsDBNull(9) ? null : reader.GetFieldValue<DateTimeOffset>(9),
        reader.IsDBNull(10) ? null : reader.GetFieldValue<DateTimeOffset>(10),
        reader.GetFieldValue<DateTimeOffset>(11),
        reader.GetFieldValue<DateTimeOffset>(12));

    private static string? RequiredText(JsonBody body, FieldErrors errors, string field, int maxLength)
    {
        var value = body.String(field, maxLength);
        if (string.IsNullOrEmpty(value) && !errors.Errors.ContainsKey(field))
        {
            errors.Add(field, "Required, and not blank.");
            return null;
        }

        return value;
    }

    /// <summary>The role a new user or API token acts as: required, one of <see cref="FleetRoles.All"/>.</summary>
    internal static string? RequiredRole(JsonBody body, FieldErrors errors)
    {
        var role = body.Choice("role", FleetRoles.All);
        if (role is null && !errors.Errors.ContainsKey("role"))
        {
            errors.Add("role", $"Required: one of {string.Join(", ", FleetRoles.All)}.");
        }

        return role;
    }

    /// <summary>A role that acts for one department (users and API tokens alike) needs that department.</summary>
    internal static void RequireDepartmentFor(string? role, int? departmentId, FieldErrors errors)
    {
        if (role is not null && DepartmentRoles.Contains(role) && departmentId is null && !errors.Errors.ContainsKey("departmentId"))
        {
            errors.Add("departmentId", $"Required for the role {role}, which acts for one department.");
        }
    }

    private static int? ParseId(string raw) =>
        int.TryParse(raw, NumberStyles.None, CultureInfo.InvariantCulture, out var id) && id > 0 ? id : null;

    private static NpgsqlParameter IntParameter(int? value) => new() { NpgsqlDbType = NpgsqlDbType.Integer, Value = value is { } v ? v : DBNull.Value };

    private static string Text(int value) => value.ToString(CultureInfo.InvariantCulture);

    private static IResult ConstraintProblem(PostgresException ex, string username) => ex switch
    {
        { SqlState: PostgresErrorCodes.UniqueViolation } => TypedResults.Problem(
            $"A user named '{username}' already exists; choose another username.",
            statusCode: StatusCodes.Status409Conflict,
            title: "用户名已存在",
            extensions: new Dictionary<string, object?> { ["field"] = "username" }),
        { SqlState: PostgresErrorCodes.ForeignKeyViolation, ConstraintName: var name } when name?.Contains("region", StringComparison.Ordinal) == true =>
            Problems.Validation("regionId", "No region has this id."),
        { SqlState: PostgresErrorCodes.ForeignKeyViolation } => Problems.Validation("departmentId", "No department has this id."),
        { ConstraintName: "users_department_required" } => Problems.Validation("departmentId", "Required for this role, which acts for one department."),
        _ => Problems.Validation("body", "The values break a rule of the users table."),
    };

    private static IResult UserNotFound(string id) => Problems.NotFound($"No user has the id '{id}'.");

    [GeneratedRegex("^[a-z0-9][a-z0-9_.@-]{0,63}$", RegexOptions.CultureInvariant)]
    private static partial Regex UsernamePattern();

    [LoggerMessage(Level = LogLevel.Information, Message = "User {Username} ({Role}) created by {Admin}")]
    private static partial void LogCreated(ILogger logger, string username, string role, string? admin);

    [LoggerMessage(Level = LogLevel.Information, Message = "User {Username} changed by {Admin}: role {Role}, department {DepartmentId}, enabled {Enabled}")]
    private static partial void LogChanged(ILogger logger, string username, string role, int? departmentId, bool enabled, string? admin);

    [LoggerMessage(Level = LogLevel.Information, Message = "Password of {Username} reset by {Admin}")]
    private static partial void LogPasswordReset(ILogger logger, string username, string? admin);
}
