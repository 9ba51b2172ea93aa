using System.Globalization;

namespace Fleet.Web.Api;

/// <summary>
/// Parses query-string (and body) values by hand and collects one message per bad field, so a client gets every problem in
/// one 400 with field names (minimal API binding would answer a bare 400 on the first bad number).
/// </summary>
public sealed class FieldErrors
{
    private readonly Dictionary<string, string[]> _errors = new(StringComparer.Ordinal);

    public bool HasErrors => _errors.Count > 0;

    public IDictionary<string, string[]> Errors => _errors;

    public void Add(string field, string message) =>
        _errors[field] = _errors.TryGetValue(field, out var existing) ? [.. existing, message] : [message];

    public int Number(string field, string? raw, int defaultValue, int min, int max)
    {
        if (string.IsNullOrEmpty(raw))
        {
            return defaultValue;
        }

        if (!int.TryParse(raw, NumberStyles.None, CultureInfo.InvariantCulture, out var value) || value < min || value > max)
        {
            Add(field, $"Must be a whole number from {min} to {max}.");
            return defaultValue;
        }

        return value;
    }

    public int? OptionalId(string field, string? raw)
    {
        if (string.IsNullOrEmpty(raw))
        {
            return null;
        }

        if (!int.TryParse(raw, NumberStyles.None, CultureInfo.InvariantCulture, out var value) || value < 1)
        {
            Add(field, "Must be a positive whole number.");
            return null;
        }

        return value;
    }

    public string? Text(string field, string? raw, int maxLength)
    {
        if (string.IsNullOrWhiteSpace(raw))
        {
            return null;
        }

        var trimmed = raw.Trim();
        if (trimmed.Length > maxLength)
        {
            Add(field, $"At most {maxLength} characters.");
            return null;
        }

        // PostgreSQL text cannot hold NUL (the query would fail), and no name, plate or id has control characters.
        if (trimmed.Any(char.IsControl))
        {
            Add(field, "Must not contain control characters.");
            return null;
        }

        return trimmed;
    }

    public DateTimeOffset? Time(string field, string? raw)
    {
        if (string.IsNullOrEmpty(raw))
        {
            return null;
        }

        if (!ShanghaiTime.TryParseIso(raw, out var value))
        {
            Add(field, $"Must be an ISO-8601 date or date-time from {ShanghaiTime.MinYear} to {ShanghaiTime.MaxYear}, e.g. 2026-11-22T08:00:00+08:00 (no offset means Asia/Shanghai).");
            return null;
        }

        return value;
    }

    /// <summary>Page and page size; a page size above the maximum is an error rather than silently clamped.</summary>
    public Paging Paging(string? page, string? pageSize) =>
        new(Number("page", page, 1, 1, Api.Paging.MaxPage), Number("pageSize", pageSize, Api.Paging.DefaultPageSize, 1, Api.Paging.MaxPageSize));
}
