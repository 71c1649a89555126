'use strict';
// The request's subject is looked up in the request's organization: the autocomplete sends the organization chosen
// on the form (data-organization-field) or the request's own (data-organization), and a change of organization
// clears a subject chosen before. Replaces Django's djangoAdminSelect2 before it runs (this file loads after it).
{
    const $ = django.jQuery;
    const djangoSelect2 = $.fn.djangoAdminSelect2;

    function organizationOf(element) {
        if (element.dataset.organizationField) {
            const field = document.getElementById(element.dataset.organizationField);
            return field ? field.value : '';
        }
        return element.dataset.organization || '';
    }

    $.fn.djangoAdminSelect2 = function() {
        $.each(this, function(i, element) {
            if (!element.dataset.organizationField && !element.dataset.organization) {
                djangoSelect2.call($(element));
                return;
            }
            $(element).select2({
                ajax: {
                    data: (params) => ({
                        term: params.term,
                        page: params.page,
                        app_label: element.dataset.appLabel,
                        model_name: element.dataset.modelName,
                        field_name: element.dataset.fieldName,
                        organization: organizationOf(element)
                    })
                }
            });
            const scope = element.dataset.organizationField && document.getElementById(element.dataset.organizationField);
            if (scope) {
                scope.addEventListener('change', () => $(element).val(null).trigger('change'));
            }
        });
        return this;
    };
}
