using System.Globalization;
using System.Text.Json;
using Fleet.Web.Api;

namespace Fleet.Web.Admin;

/// <summary>
/// A JSON object body read by hand for the admin APIs, so one 400 names every bad field, unknown fields are refused
/// rather than ignored, and PATCH can tell <c>"departmentId": null</c> (clear it) from no <c>departmentId</c> (keep it).
/// Names match case-insensitively, as minimal API binding does.
/// </summary>
internal sealed class JsonBody
{
    private readonly Dictionary<string, JsonElement> _fields;
    private readonly FieldErrors _errors;

    private JsonBody(Dictionary<string, JsonElement> fields, FieldErrors errors)
    {
        _fields = fields;
        _errors = errors;
    }

    /// <summary>The body, or null (with the reason in <paramref name="errors"/>) when it is not a JSON object.</summary>
    public static async Task<JsonBody?> ReadAsync(HttpRequest request, FieldErrors errors, IReadOnlyCollection<string> allowed, CancellationToken ct)
    {
        if (!request.HasJsonContentType())
        {
            errors.Add("body", "Send a JSON object with Content-Type: application/json.");
            return null;
        }

        JsonElement root;
        try
        {
            using var document = await JsonDocument.ParseAsync(request.Body, cancellationToken: ct);
            root = document.RootElement.Clone();
        }
        catch (JsonException)
        {
            errors.Add("body", "Must be a JSON object.");
            return null;
        }

        if (root.ValueKind != JsonValueKind.Object)
        {
            errors.Add("body", "Must be a JSON object.");
            return null;
        }

        var fields = new Dictionary<string, JsonElement>(StringComparer.OrdinalIgnoreCase);
        foreach (var property in root.EnumerateObject())
        {
            if (allowed.FirstOrDefault(a => string.Equals(a, property.Name, StringComparison.OrdinalIgnoreCase)) is { } name)
            {
                fields[name] = property.Value;
            }
            else
            {
                errors.Add(property.Name, $"Unknown field; this request takes {string.Join(", ", allowed)}.");
            }
        }

        return new JsonBody(fields, errors);
    }

    public bool Has(string field) => _fields.ContainsKey(field);

    /// <summary>A string (trimmed unless <paramref name="trim"/> is false); null when absent, null, or wrong (then an error).</summary>
    public string? String(string field, int maxLength, bool trim = true)
    {
        if (!_fields.TryGetValue(field, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        if (value.ValueKind != JsonValueKind.String)
        {
            _errors.Add(field, "Must be a string.");
            return null;
        }

        var text = value.GetString()!;
        text = trim ? text.Trim() : text;
        if (text.Length > maxLength)
        {
            _errors.Add(field, string.Create(CultureInfo.InvariantCulture, $"At most {maxLength} characters."));
            return null;
        }

        // As FieldErrors.Text: PostgreSQL text cannot hold NUL (the insert would fail with a 500), and no name has control characters.
        if (text.Any(char.IsControl))
        {
            _errors.Add(field, "Must not contain control characters.");
            return null;
        }

        return text;
    }

    public bool? Boolean(string field)
    {
        if (!_fields.TryGetValue(field, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        if (value.ValueKind is JsonValueKind.True or JsonValueKind.False)
        {
            return value.GetBoolean();
        }

        _errors.Add(field, "Must be true or false.");
        return null;
    }

    /// <summary>A whole number in [min, max]; null when absent or null.</summary>
    public int? Integer(string field, int min, int max)
    {
        if (!_fields.TryGetValue(field, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        if (value.ValueKind == JsonValueKind.Number && value.TryGetInt32(out var number) && number >= min && number <= max)
        {
            return number;
        }

        _errors.Add(field, string.Create(CultureInfo.InvariantCulture, $"Must be a whole number from {min} to {max}."));
        return null;
    }

    /// <summary>A string that must be one of <paramref name="choices"/>.</summary>
    public string? Choice(string field, IReadOnlyCollection<string> choices)
    {
        var value = String(field, 64);
        if (value is not null && !choices.Contains(value, StringComparer.Ordinal))
        {
            _errors.Add(field, $"Must be one of: {string.Join(", ", choices)}.");
            return null;
        }

        return value;
    }
}
