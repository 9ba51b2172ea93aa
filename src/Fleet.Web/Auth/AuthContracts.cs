namespace Fleet.Web.Auth;

public sealed record LoginRequest(string? Username, string? Password);

/// <summary>The signed-in user, as <c>login</c> and <c>me</c> return it.</summary>
public sealed record CurrentUser(string Username, string DisplayName, string Role, int? DepartmentId, int? RegionId, string Locale);
