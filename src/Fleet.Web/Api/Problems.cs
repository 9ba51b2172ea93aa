namespace Fleet.Web.Api;

/// <summary>
/// The ProblemDetails every API answers with. Convention: <c>title</c> in Chinese (the UI is zh-CN by default),
/// <c>detail</c> in English with the specifics, so both a user and an operator can read it.
/// </summary>
public static class Problems
{
    public static IResult NotFound(string detail) =>
        TypedResults.Problem(detail, statusCode: StatusCodes.Status404NotFound, title: "未找到");

    public static IResult Validation(IDictionary<string, string[]> errors) =>
        TypedResults.ValidationProblem(errors, "One or more query or body fields are invalid; see errors.", title: "请求参数无效");

    public static IResult Validation(string field, string message) =>
        Validation(new Dictionary<string, string[]> { [field] = [message] });
}
